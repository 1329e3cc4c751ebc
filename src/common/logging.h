#ifndef NDX_COMMON_LOGGING_H_
#define NDX_COMMON_LOGGING_H_

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// How the servers write their log lines on stderr, and the lines about one call. Log lines carry
// names of nodes, datasets, fields and grants, request ids and codes; never a key, a field value
// or a filter value (see docs/architecture.md, privacy).

namespace ndx {

// "text": "<time> <level> <program>: <message>". "json": JSON lines, one object per event with
// "time" (RFC 3339, UTC), "level", "program", the call's members when the line is about a call,
// and "message"; strings that are not UTF-8 have their bad bytes replaced.
enum class LogFormat { kText, kJson };
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);

// Installs `format` on the process's logger (InitProcess made it), and sends gRPC's own log
// lines through it, so that stderr has one format. Not thread-safe: call it in main() before any
// server starts.
void SetLogFormat(LogFormat format);

// The JSON-lines formatter, for a logger of one's own (tests).
std::unique_ptr<spdlog::formatter> MakeJsonLogFormatter();

// What a line about one call carries besides its message: in JSON, the members "request_id",
// "caller", "method", "dataset" (when set), "code" and "latency_us"; in text, key=value pairs
// before the message.
struct CallFields {
  absl::string_view request_id;
  absl::string_view caller;
  absl::string_view method;
  absl::string_view dataset;
  absl::StatusCode code = absl::StatusCode::kOk;
  absl::Duration latency;
};
void LogCall(spdlog::level::level_enum level, const CallFields& call, absl::string_view message);

}  // namespace ndx

#endif  // NDX_COMMON_LOGGING_H_
