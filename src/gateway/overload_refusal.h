#ifndef NDX_GATEWAY_OVERLOAD_REFUSAL_H_
#define NDX_GATEWAY_OVERLOAD_REFUSAL_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ndx::gateway {

// Why the gateway refused a call to protect itself or the other callers, rather than on the
// call's merits. Every such refusal is built by OverloadRefusal, so that one place
// (OverloadReasonOf) tells them from the other refusals: they are what a flood is made of, and
// what the audit log may record aggregated rather than one entry each.
enum class OverloadReason {
  // The caller node's cap on reads in progress (node_limits ... calls).
  kNodeCalls,
  // ... on open server streams (streams).
  kNodeStreams,
  // ... on event subscriptions (subscriptions).
  kNodeSubscriptions,
  // ... on connections carrying its calls (connections).
  kNodeConnections,
  // The owner's adapter has as many calls in flight as the gateway allows it.
  kOwnerInFlight,
  // The caller node has its share of those calls in flight (owner_guard.caller_share_percent).
  kOwnerCallerShare,
  // The circuit to the owner's adapter is open (or half-open with its probe out).
  kOwnerCircuitOpen,
  // The caller's deadline is shorter than what the owner's adapter usually needs.
  kDeadlineTooShort,
};

// The reason's name in logs and audit reasons: "node_calls", "owner_circuit_open", ...
absl::string_view OverloadReasonName(OverloadReason reason);

// A refusal for `reason`: `code` with `message`, which must name the limit and what to do about
// it, and never a key or a value.
absl::Status OverloadRefusal(absl::StatusCode code, OverloadReason reason,
                             absl::string_view message);

// The reason of a status OverloadRefusal built; none for any other status.
std::optional<OverloadReason> OverloadReasonOf(const absl::Status& status);

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_OVERLOAD_REFUSAL_H_
