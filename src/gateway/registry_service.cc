#include "gateway/registry_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "gateway/call_record.h"
#include "gateway/caller.h"

namespace ndx::gateway {

template <typename Request, typename Response, typename Operation>
grpc::Status RegistryService::Handle(const char* name, grpc::ServerContext* context,
                                     const Request& request, Response* response,
                                     absl::string_view subject, Operation operation) {
  audit::AuditRecord record = StartCallRecord(*context, *clock_, absl::StrCat("Registry.", name),
                                              registry_->snapshot()->revision());
  record.dataset = std::string(subject);

  absl::Status status;
  absl::StatusOr<std::string> caller = CallerNodeId(*context, trust_domain_);
  if (!caller.ok()) {
    status = caller.status();
  } else {
    record.caller = *caller;
    auto result = (admin_->*operation)(*caller, request);
    if (result.ok()) {
      *response = *std::move(result);
    } else {
      status = result.status();
    }
  }
  return ToGrpcStatus(RecordCall(*audit_, *clock_, std::move(record), std::move(status)));
}

grpc::Status RegistryService::RegisterNode(grpc::ServerContext* context,
                                           const v1::RegisterNodeRequest* request,
                                           v1::Node* response) {
  return Handle("RegisterNode", context, *request, response, "",
                &registry::RegistryAdmin::RegisterNode);
}

grpc::Status RegistryService::GetNode(grpc::ServerContext* context,
                                      const v1::GetNodeRequest* request, v1::Node* response) {
  return Handle("GetNode", context, *request, response, "", &registry::RegistryAdmin::GetNode);
}

grpc::Status RegistryService::ListNodes(grpc::ServerContext* context,
                                        const v1::ListNodesRequest* request,
                                        v1::ListNodesResponse* response) {
  return Handle("ListNodes", context, *request, response, "", &registry::RegistryAdmin::ListNodes);
}

grpc::Status RegistryService::RegisterDataset(grpc::ServerContext* context,
                                              const v1::RegisterDatasetRequest* request,
                                              v1::Dataset* response) {
  return Handle("RegisterDataset", context, *request, response, request->id(),
                &registry::RegistryAdmin::RegisterDataset);
}

grpc::Status RegistryService::GetDataset(grpc::ServerContext* context,
                                         const v1::GetDatasetRequest* request,
                                         v1::Dataset* response) {
  return Handle("GetDataset", context, *request, response, request->id(),
                &registry::RegistryAdmin::GetDataset);
}

grpc::Status RegistryService::ListDatasets(grpc::ServerContext* context,
                                           const v1::ListDatasetsRequest* request,
                                           v1::ListDatasetsResponse* response) {
  return Handle("ListDatasets", context, *request, response, "",
                &registry::RegistryAdmin::ListDatasets);
}

grpc::Status RegistryService::RequestGrant(grpc::ServerContext* context,
                                           const v1::RequestGrantRequest* request,
                                           v1::Grant* response) {
  return Handle("RequestGrant", context, *request, response, request->dataset(),
                &registry::RegistryAdmin::RequestGrant);
}

grpc::Status RegistryService::ApproveGrant(grpc::ServerContext* context,
                                           const v1::ApproveGrantRequest* request,
                                           v1::Grant* response) {
  return Handle("ApproveGrant", context, *request, response, "",
                &registry::RegistryAdmin::ApproveGrant);
}

grpc::Status RegistryService::RevokeGrant(grpc::ServerContext* context,
                                          const v1::RevokeGrantRequest* request,
                                          v1::Grant* response) {
  return Handle("RevokeGrant", context, *request, response, "",
                &registry::RegistryAdmin::RevokeGrant);
}

grpc::Status RegistryService::GetGrant(grpc::ServerContext* context,
                                       const v1::GetGrantRequest* request, v1::Grant* response) {
  return Handle("GetGrant", context, *request, response, "", &registry::RegistryAdmin::GetGrant);
}

grpc::Status RegistryService::ListGrants(grpc::ServerContext* context,
                                         const v1::ListGrantsRequest* request,
                                         v1::ListGrantsResponse* response) {
  return Handle("ListGrants", context, *request, response, "",
                &registry::RegistryAdmin::ListGrants);
}

}  // namespace ndx::gateway
