#include "gateway/registry_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "gateway/audited_call.h"
#include "gateway/caller.h"

namespace ndx::gateway {

template <typename Response, typename Body>
grpc::Status RegistryService::Handle(const char* name, grpc::ServerContext* context,
                                     Response* response, absl::string_view dataset,
                                     absl::string_view grant_id, Body body) {
  AuditedCall call(*context, *audit_, *clock_, absl::StrCat("Registry.", name),
                   registry_->snapshot()->revision());
  call.record().dataset = std::string(dataset);
  call.record().grant_id = std::string(grant_id);
  absl::Status status;
  absl::StatusOr<std::string> caller = CallerNodeId(*context, callers_);
  if (!caller.ok()) {
    status = caller.status();
  } else if (absl::Status fresh = registry_->CheckFresh(); !fresh.ok()) {
    call.record().caller = *caller;
    status = std::move(fresh);
  } else {
    call.record().caller = *caller;
    auto result = body(*caller, call);
    if (result.ok()) {
      *response = *std::move(result);
    } else {
      status = result.status();
    }
  }
  return ToGrpcStatus(call.FinishAndWait(std::move(status)));
}

grpc::Status RegistryService::RegisterNode(grpc::ServerContext* context,
                                           const v1::RegisterNodeRequest* request,
                                           v1::Node* response) {
  return Handle("RegisterNode", context, response, "", "",
                [&](absl::string_view caller, AuditedCall& call) {
                  return admin_->RegisterNode(caller, *request, call);
                });
}

grpc::Status RegistryService::GetNode(grpc::ServerContext* context,
                                      const v1::GetNodeRequest* request, v1::Node* response) {
  return Handle("GetNode", context, response, "", "", [&](absl::string_view caller, AuditedCall&) {
    return admin_->GetNode(caller, *request);
  });
}

grpc::Status RegistryService::ListNodes(grpc::ServerContext* context,
                                        const v1::ListNodesRequest* request,
                                        v1::ListNodesResponse* response) {
  return Handle(
      "ListNodes", context, response, "", "",
      [&](absl::string_view caller, AuditedCall&) { return admin_->ListNodes(caller, *request); });
}

grpc::Status RegistryService::RegisterDataset(grpc::ServerContext* context,
                                              const v1::RegisterDatasetRequest* request,
                                              v1::Dataset* response) {
  return Handle("RegisterDataset", context, response, request->id(), "",
                [&](absl::string_view caller, AuditedCall& call) {
                  return admin_->RegisterDataset(caller, *request, call);
                });
}

grpc::Status RegistryService::GetDataset(grpc::ServerContext* context,
                                         const v1::GetDatasetRequest* request,
                                         v1::Dataset* response) {
  return Handle(
      "GetDataset", context, response, request->id(), "",
      [&](absl::string_view caller, AuditedCall&) { return admin_->GetDataset(caller, *request); });
}

grpc::Status RegistryService::ListDatasets(grpc::ServerContext* context,
                                           const v1::ListDatasetsRequest* request,
                                           v1::ListDatasetsResponse* response) {
  return Handle("ListDatasets", context, response, "", "",
                [&](absl::string_view caller, AuditedCall&) {
                  return admin_->ListDatasets(caller, *request);
                });
}

grpc::Status RegistryService::RequestGrant(grpc::ServerContext* context,
                                           const v1::RequestGrantRequest* request,
                                           v1::Grant* response) {
  return Handle("RequestGrant", context, response, request->dataset(), "",
                [&](absl::string_view caller, AuditedCall& call) {
                  return admin_->RequestGrant(caller, *request, call);
                });
}

grpc::Status RegistryService::ApproveGrant(grpc::ServerContext* context,
                                           const v1::ApproveGrantRequest* request,
                                           v1::Grant* response) {
  return Handle("ApproveGrant", context, response, "", request->grant_id(),
                [&](absl::string_view caller, AuditedCall& call) {
                  return admin_->ApproveGrant(caller, *request, call);
                });
}

grpc::Status RegistryService::RevokeGrant(grpc::ServerContext* context,
                                          const v1::RevokeGrantRequest* request,
                                          v1::Grant* response) {
  return Handle("RevokeGrant", context, response, "", request->grant_id(),
                [&](absl::string_view caller, AuditedCall& call) {
                  return admin_->RevokeGrant(caller, *request, call);
                });
}

grpc::Status RegistryService::SetGrantRateLimit(grpc::ServerContext* context,
                                                const v1::SetGrantRateLimitRequest* request,
                                                v1::Grant* response) {
  return Handle("SetGrantRateLimit", context, response, "", request->grant_id(),
                [&](absl::string_view caller, AuditedCall& call) {
                  return admin_->SetGrantRateLimit(caller, *request, call);
                });
}

grpc::Status RegistryService::GetGrant(grpc::ServerContext* context,
                                       const v1::GetGrantRequest* request, v1::Grant* response) {
  return Handle(
      "GetGrant", context, response, "", request->grant_id(),
      [&](absl::string_view caller, AuditedCall&) { return admin_->GetGrant(caller, *request); });
}

grpc::Status RegistryService::ListGrants(grpc::ServerContext* context,
                                         const v1::ListGrantsRequest* request,
                                         v1::ListGrantsResponse* response) {
  return Handle(
      "ListGrants", context, response, request->dataset(), "",
      [&](absl::string_view caller, AuditedCall&) { return admin_->ListGrants(caller, *request); });
}

}  // namespace ndx::gateway
