#include "common/logging.h"

#include <grpc/support/log.h>
#include <spdlog/formatter.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ndx {
namespace {

std::atomic<LogFormat> log_format{LogFormat::kText};

// The call a line is about, while LogCall logs it: the process's logger is synchronous, so the
// formatter runs in the logging thread.
thread_local const CallFields* current_call = nullptr;

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line;
    line["time"] =
        absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromChrono(msg.time), absl::UTCTimeZone());
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    line["level"] = std::string(level.data(), level.size());
    line["program"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    if (const CallFields* call = current_call) {
      line["request_id"] = std::string(call->request_id);
      line["caller"] = std::string(call->caller);
      line["method"] = std::string(call->method);
      if (!call->dataset.empty()) line["dataset"] = std::string(call->dataset);
      line["code"] = absl::StatusCodeToString(call->code);
      line["latency_us"] = absl::ToInt64Microseconds(call->latency);
    }
    line["message"] = std::string(msg.payload.data(), msg.payload.size());
    const std::string text =
        line.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLogFormatter>();
  }
};

// gRPC's own log lines (gpr_log), which would otherwise go to stderr in a format of their own.
void ForwardGrpcLog(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::debug;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = spdlog::level::err;
  if (args->severity == GPR_LOG_SEVERITY_INFO) level = spdlog::level::info;
  absl::string_view file = args->file != nullptr ? args->file : "";
  file = file.substr(file.rfind('/') + 1);
  const absl::string_view message = args->message != nullptr ? args->message : "";
  // Every TLS handshake to a server whose certificate names no host (ours carry SPIFFE ids, and
  // clients check those) logs this at ERROR; it is the expected case, not an error.
  if (file == "ssl_transport_security.cc" &&
      absl::StartsWith(message, "No match found for server name")) {
    level = spdlog::level::debug;
  }
  spdlog::log(level, "grpc {}:{}: {}", std::string(file), args->line, std::string(message));
}

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("log format \"", absl::CHexEscape(name), "\" is not text or json"));
}

std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter() {
  return std::make_unique<JsonLogFormatter>();
}

void SetLogFormat(LogFormat format) {
  log_format.store(format);
  gpr_set_log_function(&ForwardGrpcLog);
  if (format == LogFormat::kJson) {
    spdlog::default_logger()->set_formatter(MakeJsonLogFormatter());
  } else {
    spdlog::default_logger()->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %L %n: %v",
                                          spdlog::pattern_time_type::utc);
  }
}

void LogCall(spdlog::level::level_enum level, const CallFields& call, absl::string_view message) {
  if (!spdlog::default_logger()->should_log(level)) return;
  if (log_format.load(std::memory_order_relaxed) == LogFormat::kJson) {
    current_call = &call;
    spdlog::log(level, "{}", std::string(message));
    current_call = nullptr;
    return;
  }
  spdlog::log(level, "{} request_id={} caller={}{}{} code={} latency_us={}: {}",
              std::string(call.method), std::string(call.request_id), std::string(call.caller),
              call.dataset.empty() ? "" : " dataset=", std::string(call.dataset),
              absl::StatusCodeToString(call.code), absl::ToInt64Microseconds(call.latency),
              std::string(message));
}

}  // namespace ndx
