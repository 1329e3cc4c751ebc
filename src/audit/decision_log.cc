#include "audit/decision_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace ndx::audit {

absl::StatusOr<std::unique_ptr<DecisionLog>> DecisionLog::Open(const std::string& path) {
  if (path.empty()) return std::unique_ptr<DecisionLog>(new DecisionLog(STDERR_FILENO, false));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open decision log ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<DecisionLog>(new DecisionLog(fd, true));
}

DecisionLog::~DecisionLog() {
  if (owned_) ::close(fd_);
}

std::string DecisionLog::ToJson(const AuditRecord& record) {
  nlohmann::json json = {
      {"time", absl::FormatTime(absl::RFC3339_full, record.time, absl::UTCTimeZone())},
      {"request_id", record.request_id},
      {"caller", record.caller},
      {"operation", record.operation},
      {"decision", record.allowed ? "allow" : "deny"},
      {"code", absl::StatusCodeToString(record.code)},
      {"registry_revision", record.registry_revision},
      {"latency_us", absl::ToInt64Microseconds(record.latency)},
  };
  if (!record.dataset.empty()) json["dataset"] = record.dataset;
  if (!record.purpose.empty()) json["purpose"] = record.purpose;
  if (!record.grant_id.empty()) json["grant"] = record.grant_id;
  if (!record.reason.empty()) json["reason"] = record.reason;
  if (record.change.has_value()) {
    std::string change;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    if (google::protobuf::util::MessageToJsonString(*record.change, &change, options).ok()) {
      json["change"] = nlohmann::json::parse(change, nullptr, /*allow_exceptions=*/false);
    }
  }
  if (record.grant_rate_limit.has_value()) {
    json["grant_rate_limit"] = {
        {"requests_per_second", record.grant_rate_limit->requests_per_second()},
        {"burst", record.grant_rate_limit->burst()}};
  }
  if (record.refused_calls > 0) {
    json["refused_calls"] = record.refused_calls;
    json["refused_until"] =
        absl::FormatTime(absl::RFC3339_full, record.refused_until, absl::UTCTimeZone());
  }
  if (record.allowed) {
    json["fields"] = record.fields;
    json["records"] = record.record_count;
    json["bytes"] = record.response_bytes;
  }
  // Replace invalid UTF-8 (a malformed dataset id, say) instead of throwing.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void DecisionLog::Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) {
  std::string line = ToJson(record);
  line.push_back('\n');
  absl::Status status;
  {
    // One write(2) per line under the lock keeps lines whole when requests run concurrently.
    absl::MutexLock lock(&mutex_);
    size_t written = 0;
    while (written < line.size()) {
      ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        status = absl::UnavailableError(
            absl::StrCat("cannot write the decision log: ", std::strerror(errno)));
        break;
      }
      written += static_cast<size_t>(n);
    }
  }
  std::move(done)(status);
}

}  // namespace ndx::audit
