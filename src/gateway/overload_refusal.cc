#include "gateway/overload_refusal.h"

#include <string>

#include "absl/strings/cord.h"

namespace ndx::gateway {
namespace {

// The payload that marks a status as an overload refusal; it stays inside the gateway
// (ToGrpcStatus carries only the code and the message).
constexpr char kPayloadType[] = "ndx.gov.vn/ndx.overload_reason";

constexpr OverloadReason kReasons[] = {
    OverloadReason::kNodeCalls,         OverloadReason::kNodeStreams,
    OverloadReason::kNodeSubscriptions, OverloadReason::kNodeConnections,
    OverloadReason::kOwnerInFlight,     OverloadReason::kOwnerCallerShare,
    OverloadReason::kOwnerCircuitOpen,  OverloadReason::kDeadlineTooShort,
};

}  // namespace

absl::string_view OverloadReasonName(OverloadReason reason) {
  switch (reason) {
    case OverloadReason::kNodeCalls:
      return "node_calls";
    case OverloadReason::kNodeStreams:
      return "node_streams";
    case OverloadReason::kNodeSubscriptions:
      return "node_subscriptions";
    case OverloadReason::kNodeConnections:
      return "node_connections";
    case OverloadReason::kOwnerInFlight:
      return "owner_in_flight";
    case OverloadReason::kOwnerCallerShare:
      return "owner_caller_share";
    case OverloadReason::kOwnerCircuitOpen:
      return "owner_circuit_open";
    case OverloadReason::kDeadlineTooShort:
      return "deadline_too_short";
  }
  return "unknown";
}

absl::Status OverloadRefusal(absl::StatusCode code, OverloadReason reason,
                             absl::string_view message) {
  absl::Status status(code, message);
  status.SetPayload(kPayloadType, absl::Cord(OverloadReasonName(reason)));
  return status;
}

std::optional<OverloadReason> OverloadReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(kPayloadType);
  if (!payload.has_value()) return std::nullopt;
  for (OverloadReason reason : kReasons) {
    if (*payload == OverloadReasonName(reason)) return reason;
  }
  return std::nullopt;
}

}  // namespace ndx::gateway
