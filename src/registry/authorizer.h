#ifndef NDX_REGISTRY_AUTHORIZER_H_
#define NDX_REGISTRY_AUTHORIZER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "registry/snapshot.h"

namespace ndx::registry {

// What a consumer asks to read.
struct ReadRequest {
  absl::string_view dataset;
  // What the read is: READ (Get), QUERY (Query with filters), EXPORT (Query without filters) or
  // SUBSCRIBE; the grant must allow it.
  v1::Operation operation = v1::OPERATION_UNSPECIFIED;
  // Requested fields; empty means every field the grant covers.
  absl::Span<const std::string> fields;
  absl::string_view purpose;
  // Fields used in Query filters; each must be covered by the grant like a returned field,
  // since filtering on a field reveals its value.
  absl::Span<const std::string> filter_fields;
};

// An allowed read. Pointers refer into the snapshot the decision was made on; the caller keeps
// that snapshot alive while it uses them.
struct Decision {
  const v1::Grant* grant = nullptr;
  const DatasetEntry* dataset = nullptr;
  const v1::Node* owner = nullptr;
  // The fields to return, in schema (field number) order, and their numbers, ascending.
  std::vector<std::string> fields;
  std::vector<int> field_numbers;
};

// The grant a read would be allowed under, and the dataset it reads.
struct GrantMatch {
  const v1::Grant* grant = nullptr;
  const DatasetEntry* dataset = nullptr;
  // The grant's set and terms in the snapshot.
  const GrantSet* grants = nullptr;
  const GrantTerms* terms = nullptr;
};

// Authorize without its checks of the owner node: the approved, unexpired grant of `caller` that
// covers the request, or the same errors as Authorize but kUnavailable. For what does not reach
// the owner's adapter, such as a subscription to the dataset's events.
absl::StatusOr<GrantMatch> FindCoveringGrant(const Snapshot& snapshot, absl::string_view caller,
                                             const ReadRequest& request, absl::Time now);

// Decides whether `caller` (a node id) may read. Deny by default. Errors, each with a message
// that says what is missing:
//   kInvalidArgument   malformed dataset id or purpose, a field the schema does not have
//   kNotFound          no such dataset
//   kPermissionDenied  caller not registered or suspended; no grant; grant not approved, revoked
//                      or expired; purpose, operation or a field not covered
//   kUnavailable       the owner node has no adapter endpoint
// Never blocks and takes no lock: called concurrently on the hot path.
absl::StatusOr<Decision> Authorize(const Snapshot& snapshot, absl::string_view caller,
                                   const ReadRequest& request, absl::Time now);

// The node `caller` when it is registered and active; otherwise kPermissionDenied "node x is not
// registered", "node x is suspended" or (state unset) "node x is not active". The first check of
// every call, Authorize's and RegistryAdmin's alike. Takes no lock.
absl::StatusOr<const v1::Node*> ActiveCaller(const Snapshot& snapshot, absl::string_view caller);

// "read", "query", "export", "subscribe": the names refusals and the CLI use.
std::string OperationName(v1::Operation operation);

// Whether `node` holds `role` (operator, auditor).
bool HasRole(const v1::Node& node, v1::Role role);

// OK while grant `grant_id` is in force for `caller`: its own, approved and unexpired (whether
// `caller` is active is ActiveCaller's question). Otherwise kPermissionDenied saying what changed
// ("grant g-1 was revoked at ..."). For long-lived permissions taken under a grant, checked again
// as they are used.
absl::Status CheckGrantInForce(const Snapshot& snapshot, absl::string_view caller,
                               absl::string_view grant_id, absl::Time now);

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_AUTHORIZER_H_
