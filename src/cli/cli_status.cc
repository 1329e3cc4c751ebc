#include "cli/cli_status.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace ndx::cli {
namespace {

// Payload type URL and values marking the origin of an error.
constexpr char kOriginUrl[] = "type.ndx.gov.vn/ndxctl.ErrorOrigin";
constexpr char kOriginUsage[] = "usage";
constexpr char kOriginRpc[] = "rpc";
constexpr char kOriginHandler[] = "handler";

bool HasOrigin(const absl::Status& status, absl::string_view origin) {
  auto payload = status.GetPayload(kOriginUrl);
  return payload.has_value() && *payload == origin;
}

}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kOriginUrl, absl::Cord(kOriginUsage));
  return status;
}

absl::Status RpcError(const grpc::Status& grpc_status) {
  absl::Status status = FromGrpcStatus(grpc_status);
  if (!status.ok()) status.SetPayload(kOriginUrl, absl::Cord(kOriginRpc));
  return status;
}

absl::Status HandlerFailure(absl::string_view message) {
  absl::Status status = absl::AbortedError(message);
  status.SetPayload(kOriginUrl, absl::Cord(kOriginHandler));
  return status;
}

bool IsUsageError(const absl::Status& status) { return HasOrigin(status, kOriginUsage); }

bool IsRpcError(const absl::Status& status) { return HasOrigin(status, kOriginRpc); }

bool IsHandlerFailure(const absl::Status& status) { return HasOrigin(status, kOriginHandler); }

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  if (IsUsageError(status)) return kExitUsage;
  if (IsHandlerFailure(status)) return kExitHandlerFailed;
  if (IsRpcError(status)) return kExitRpcBase + static_cast<int>(status.code());
  return kExitLocal;
}

std::string FormatError(const absl::Status& status) {
  return absl::StrCat("ndxctl: ", absl::StatusCodeToString(status.code()), ": ", status.message());
}

}  // namespace ndx::cli
