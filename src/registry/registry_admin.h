#ifndef NDX_REGISTRY_REGISTRY_ADMIN_H_
#define NDX_REGISTRY_REGISTRY_ADMIN_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "ndx/v1/registry.pb.h"
#include "registry/registry.h"

namespace ndx::registry {

// The registry operations of the Registry gRPC service, with their validation and their
// authorization. `caller` is the node id taken from the caller's certificate.
//   - Every caller must be a registered, active node (kPermissionDenied otherwise).
//   - RegisterNode: operators only. GetNode/ListNodes/GetDataset/ListDatasets: any node.
//   - RegisterDataset: the owner is the caller, and the dataset's agency is the caller's.
//   - RequestGrant: the consumer is the caller. ApproveGrant: the dataset's owner.
//     RevokeGrant: the dataset's owner or an operator. GetGrant/ListGrants: operators see all;
//     others see the grants they consume or whose dataset they own.
// Thread-safe: read-modify-write operations are serialized by a mutex.
class RegistryAdmin {
 public:
  RegistryAdmin(Registry* registry, const Clock* clock) : registry_(registry), clock_(clock) {}

  absl::StatusOr<v1::Node> RegisterNode(absl::string_view caller,
                                        const v1::RegisterNodeRequest& request);
  absl::StatusOr<v1::Node> GetNode(absl::string_view caller, const v1::GetNodeRequest& request);
  absl::StatusOr<v1::ListNodesResponse> ListNodes(absl::string_view caller,
                                                  const v1::ListNodesRequest& request);

  absl::StatusOr<v1::Dataset> RegisterDataset(absl::string_view caller,
                                              const v1::RegisterDatasetRequest& request);
  absl::StatusOr<v1::Dataset> GetDataset(absl::string_view caller,
                                         const v1::GetDatasetRequest& request);
  absl::StatusOr<v1::ListDatasetsResponse> ListDatasets(absl::string_view caller,
                                                        const v1::ListDatasetsRequest& request);

  absl::StatusOr<v1::Grant> RequestGrant(absl::string_view caller,
                                         const v1::RequestGrantRequest& request);
  absl::StatusOr<v1::Grant> ApproveGrant(absl::string_view caller,
                                         const v1::ApproveGrantRequest& request);
  absl::StatusOr<v1::Grant> RevokeGrant(absl::string_view caller,
                                        const v1::RevokeGrantRequest& request);
  absl::StatusOr<v1::Grant> GetGrant(absl::string_view caller, const v1::GetGrantRequest& request);
  absl::StatusOr<v1::ListGrantsResponse> ListGrants(absl::string_view caller,
                                                    const v1::ListGrantsRequest& request);

  // Registers each node id with the operator role (creating it active, or adding the role),
  // so that a new platform can be administered. Called once at gateway start-up.
  absl::Status BootstrapOperators(absl::Span<const std::string> node_ids);

 private:
  Registry* const registry_;
  const Clock* const clock_;
  absl::Mutex write_mutex_;
};

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_REGISTRY_ADMIN_H_
