#ifndef NDX_GATEWAY_REGISTRY_SERVICE_H_
#define NDX_GATEWAY_REGISTRY_SERVICE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "audit/audit_sink.h"
#include "common/clock.h"
#include "gateway/caller.h"
#include "ndx/v1/registry.grpc.pb.h"
#include "registry/registry_admin.h"

namespace ndx::gateway {

// The Registry gRPC service: identifies the caller from its certificate and hands the request to
// RegistryAdmin, which validates and authorizes it. Every call, allowed or refused, is recorded
// in the audit sink (AuditedCall); a write is recorded, with what it changes, before it applies.
// Thread-safe.
class RegistryService final : public v1::Registry::Service {
 public:
  RegistryService(CallerPolicy callers, registry::Registry* registry,
                  registry::RegistryAdmin* admin, audit::AuditSink* audit, const Clock* clock)
      : callers_(std::move(callers)),
        registry_(registry),
        admin_(admin),
        audit_(audit),
        clock_(clock) {}

  grpc::Status RegisterNode(grpc::ServerContext* context, const v1::RegisterNodeRequest* request,
                            v1::Node* response) override;
  grpc::Status GetNode(grpc::ServerContext* context, const v1::GetNodeRequest* request,
                       v1::Node* response) override;
  grpc::Status ListNodes(grpc::ServerContext* context, const v1::ListNodesRequest* request,
                         v1::ListNodesResponse* response) override;
  grpc::Status RegisterDataset(grpc::ServerContext* context,
                               const v1::RegisterDatasetRequest* request,
                               v1::Dataset* response) override;
  grpc::Status GetDataset(grpc::ServerContext* context, const v1::GetDatasetRequest* request,
                          v1::Dataset* response) override;
  grpc::Status ListDatasets(grpc::ServerContext* context, const v1::ListDatasetsRequest* request,
                            v1::ListDatasetsResponse* response) override;
  grpc::Status RequestGrant(grpc::ServerContext* context, const v1::RequestGrantRequest* request,
                            v1::Grant* response) override;
  grpc::Status ApproveGrant(grpc::ServerContext* context, const v1::ApproveGrantRequest* request,
                            v1::Grant* response) override;
  grpc::Status RevokeGrant(grpc::ServerContext* context, const v1::RevokeGrantRequest* request,
                           v1::Grant* response) override;
  grpc::Status SetGrantRateLimit(grpc::ServerContext* context,
                                 const v1::SetGrantRateLimitRequest* request,
                                 v1::Grant* response) override;
  grpc::Status GetGrant(grpc::ServerContext* context, const v1::GetGrantRequest* request,
                        v1::Grant* response) override;
  grpc::Status ListGrants(grpc::ServerContext* context, const v1::ListGrantsRequest* request,
                          v1::ListGrantsResponse* response) override;

 private:
  // Identifies the caller, runs `body(caller, call)` (a RegistryAdmin method), stores its result
  // in `response`, audits, and converts the status. `dataset` and `grant_id` name the call's
  // target in its record when the request names them.
  template <typename Response, typename Body>
  grpc::Status Handle(const char* name, grpc::ServerContext* context, Response* response,
                      absl::string_view dataset, absl::string_view grant_id, Body body);

  const CallerPolicy callers_;
  registry::Registry* const registry_;
  registry::RegistryAdmin* const admin_;
  audit::AuditSink* const audit_;
  const Clock* const clock_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_REGISTRY_SERVICE_H_
