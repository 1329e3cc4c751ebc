#ifndef NDX_CLI_CLI_STATUS_H_
#define NDX_CLI_CLI_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ndx::cli {

// ndxctl's exit codes. Scripts branch on them, so they are part of the interface (docs/cli.md).
inline constexpr int kExitOk = 0;
// The command line is wrong: CLI11 parse errors and flag values that fail our checks.
inline constexpr int kExitUsage = 2;
// Something local failed: a file, the profile, the PKI, a record that cannot be decoded.
inline constexpr int kExitLocal = 3;
// `events subscribe --exec`: the handler failed, so its event was not acknowledged.
inline constexpr int kExitHandlerFailed = 5;
// A call to the gateway failed with gRPC code C: the exit code is kExitRpcBase + C.
inline constexpr int kExitRpcBase = 10;

// Where an error came from decides its exit code; absl::Status carries that as a payload so that
// the commands can keep returning plain absl::Status through NDX_RETURN_IF_ERROR.

// kInvalidArgument marked as a usage error (exit 2).
absl::Status UsageError(absl::string_view message);
// A failed RPC, with gRPC's code and message (exit 10 + code). OK stays OK.
absl::Status RpcError(const grpc::Status& status);
// kAborted marked as a failed event handler (exit 5).
absl::Status HandlerFailure(absl::string_view message);

bool IsUsageError(const absl::Status& status);
bool IsRpcError(const absl::Status& status);
bool IsHandlerFailure(const absl::Status& status);

// 0 for OK; 2 for usage errors; 5 for handler failures; 10 + code for RPC errors; 3 for
// everything else.
int ExitCodeFor(const absl::Status& status);

// "ndxctl: <CODE_NAME>: <message>", e.g. "ndxctl: PERMISSION_DENIED: node moh/insurance has no
// grant on dataset mops/residents". No trailing newline.
std::string FormatError(const absl::Status& status);

}  // namespace ndx::cli

#endif  // NDX_CLI_CLI_STATUS_H_
