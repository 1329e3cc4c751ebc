#ifndef NDX_REGISTRY_REGISTRY_ADMIN_H_
#define NDX_REGISTRY_REGISTRY_ADMIN_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "ndx/v1/registry.pb.h"
#include "registry/change_recorder.h"
#include "registry/registry.h"

namespace ndx::registry {

// The registry operations of the Registry gRPC service, with their validation and their
// authorization. `caller` is the node id taken from the caller's certificate.
//   - Every caller must be a registered, active node (kPermissionDenied otherwise).
//   - RegisterNode: operators only; no node changes its own roles, and no node holds both the
//     operator and the auditor role. GetNode/ListNodes/GetDataset/ListDatasets: any node.
//   - Every input is bounded (registry/limits.h) and every operation takes time linear in its
//     input; listings come in pages.
//   - RegisterDataset: the owner is the caller, and the dataset's agency is the caller's.
//   - RequestGrant: the consumer is the caller. ApproveGrant, SetGrantRateLimit: the dataset's
//     owner. RevokeGrant: the dataset's owner or an operator. GetGrant/ListGrants: operators see
//     all; others see the grants they consume or whose dataset they own.
// Every write (RegisterNode, RegisterDataset, RequestGrant, ApproveGrant, RevokeGrant,
// SetGrantRateLimit, BootstrapOperators) describes itself to the call's ChangeRecorder before it
// applies, and applies only once that record is durable; a write that then fails is recorded as
// failed. Thread-safe: read-modify-write operations are serialized by a mutex, which is held from
// the record to the write so that what is recorded is what applies.
class RegistryAdmin {
 public:
  RegistryAdmin(Registry* registry, const Clock* clock) : registry_(registry), clock_(clock) {}

  absl::StatusOr<v1::Node> RegisterNode(absl::string_view caller,
                                        const v1::RegisterNodeRequest& request,
                                        ChangeRecorder& recorder);
  absl::StatusOr<v1::Node> GetNode(absl::string_view caller, const v1::GetNodeRequest& request);
  absl::StatusOr<v1::ListNodesResponse> ListNodes(absl::string_view caller,
                                                  const v1::ListNodesRequest& request);

  absl::StatusOr<v1::Dataset> RegisterDataset(absl::string_view caller,
                                              const v1::RegisterDatasetRequest& request,
                                              ChangeRecorder& recorder);
  absl::StatusOr<v1::Dataset> GetDataset(absl::string_view caller,
                                         const v1::GetDatasetRequest& request);
  absl::StatusOr<v1::ListDatasetsResponse> ListDatasets(absl::string_view caller,
                                                        const v1::ListDatasetsRequest& request);

  absl::StatusOr<v1::Grant> RequestGrant(absl::string_view caller,
                                         const v1::RequestGrantRequest& request,
                                         ChangeRecorder& recorder);
  absl::StatusOr<v1::Grant> ApproveGrant(absl::string_view caller,
                                         const v1::ApproveGrantRequest& request,
                                         ChangeRecorder& recorder);
  absl::StatusOr<v1::Grant> RevokeGrant(absl::string_view caller,
                                        const v1::RevokeGrantRequest& request,
                                        ChangeRecorder& recorder);
  // The dataset's owner sets, changes or removes (no rate_limit) the rate limit of a grant that
  // is requested or approved.
  absl::StatusOr<v1::Grant> SetGrantRateLimit(absl::string_view caller,
                                              const v1::SetGrantRateLimitRequest& request,
                                              ChangeRecorder& recorder);
  absl::StatusOr<v1::Grant> GetGrant(absl::string_view caller, const v1::GetGrantRequest& request);
  absl::StatusOr<v1::ListGrantsResponse> ListGrants(absl::string_view caller,
                                                    const v1::ListGrantsRequest& request);

  // On an empty registry (a new platform), registers each node id, active, with the operator
  // role, so that the platform can be administered; on a registry that holds any node, does
  // nothing. Returns whether it applied. Called at gateway start-up; `recorder` records each node
  // it creates.
  absl::StatusOr<bool> BootstrapOperators(absl::Span<const std::string> node_ids,
                                          ChangeRecorder& recorder);

 private:
  // Records `change`, then runs `write` (a Registry::Put*); records the failure of a write that
  // fails.
  template <typename Write>
  absl::Status RecordThenWrite(ChangeRecorder& recorder, const v1::RegistryChange& change,
                               Write write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mutex_);
  // Records the change of `grant` from the state `before`, with its rate limit, then stores it
  // as decided on the snapshot of `read_revision`.
  absl::Status RecordThenPutGrant(ChangeRecorder& recorder, v1::GrantState before,
                                  const v1::Grant& grant, uint64_t read_revision)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mutex_);

  Registry* const registry_;
  const Clock* const clock_;
  absl::Mutex write_mutex_;
};

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_REGISTRY_ADMIN_H_
