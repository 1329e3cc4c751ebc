#include "gateway/audit_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "gateway/audited_call.h"
#include "gateway/caller.h"
#include "google/protobuf/util/time_util.h"
#include "registry/authorizer.h"

namespace ndx::gateway {
namespace {

using google::protobuf::util::TimeUtil;

// Entries streamed per export call at most; a client pages with `start` for more.
constexpr uint64_t kMaxExportEntries = 1'000'000;

std::string HashBytes(const audit::Hash& hash) {
  return std::string(reinterpret_cast<const char*>(hash.data()), hash.size());
}

absl::Time ToAbslTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(timestamp));
}

absl::Status FillCheckpoint(const audit::SignedCheckpoint& signed_checkpoint,
                            const std::string& verifier_key, v1::SignedCheckpoint* response) {
  response->set_note(signed_checkpoint.note);
  response->set_tree_size(signed_checkpoint.checkpoint.size);
  response->set_root_hash(HashBytes(signed_checkpoint.checkpoint.root));
  *response->mutable_time() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(signed_checkpoint.checkpoint.time));
  response->set_verifier_key(verifier_key);
  return absl::OkStatus();
}

}  // namespace

template <bool kStream, typename Body>
grpc::Status AuditService::Handle(const char* name, grpc::ServerContext* context,
                                  const std::string& subject, Body body) {
  std::shared_ptr<const registry::Snapshot> snapshot = registry_->snapshot();
  AuditedCall call(*context, *sink_, *clock_, absl::StrCat("Audit.", name), snapshot->revision());
  // An auditor's question about a citizen is itself recorded under that citizen's pseudonym.
  if (!subject.empty()) call.record().subjects.push_back(subject);

  NodeLimits::Hold held;
  absl::Status status = [&]() -> absl::Status {
    NDX_ASSIGN_OR_RETURN(std::string caller, CallerNodeId(*context, callers_));
    call.record().caller = caller;
    NDX_ASSIGN_OR_RETURN(const v1::Node* node, registry::ActiveCaller(*snapshot, caller));
    if (!registry::HasRole(*node, v1::ROLE_AUDITOR)) {
      return absl::PermissionDeniedError(
          absl::StrCat("node ", caller, " does not hold the auditor role"));
    }
    if (kStream && node_limits_ != nullptr) {
      NDX_ASSIGN_OR_RETURN(held,
                           node_limits_->Acquire(caller, NodeResource::kStreams, context->peer()));
    }
    return body();
  }();

  return ToGrpcStatus(call.FinishAndWait(std::move(status)));
}

grpc::Status AuditService::QueryEntries(grpc::ServerContext* context,
                                        const v1::QueryEntriesRequest* request,
                                        v1::QueryEntriesResponse* response) {
  return Handle("QueryEntries", context, request->subject(), [&]() -> absl::Status {
    audit::AuditQuery query;
    if (!request->caller().empty()) query.caller = request->caller();
    if (!request->dataset().empty()) query.dataset = request->dataset();
    if (request->decision() != v1::AuditEntry::DECISION_UNSPECIFIED) {
      query.decision = request->decision();
    }
    if (!request->subject().empty()) query.subject = request->subject();
    if (request->has_from()) query.from = ToAbslTime(request->from());
    if (request->has_to()) query.to = ToAbslTime(request->to());
    NDX_ASSIGN_OR_RETURN(audit::AuditQueryResult result,
                         log_->Query(query, request->page_token(), request->page_size()));
    for (audit::LoggedEntry& logged : result.entries) {
      *response->add_entries() = std::move(logged.entry);
    }
    response->set_next_page_token(result.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status AuditService::GetCheckpoint(grpc::ServerContext* context,
                                         const v1::GetCheckpointRequest* request,
                                         v1::SignedCheckpoint* response) {
  return Handle("GetCheckpoint", context, "", [&]() -> absl::Status {
    absl::StatusOr<audit::SignedCheckpoint> latest = checkpointer_->Latest();
    if (request->sign_now() || latest.status().code() == absl::StatusCode::kNotFound) {
      latest = checkpointer_->SignNow();
    }
    NDX_RETURN_IF_ERROR(latest.status());
    return FillCheckpoint(*latest, checkpointer_->VerifierKeyText(), response);
  });
}

grpc::Status AuditService::GetInclusionProof(grpc::ServerContext* context,
                                             const v1::GetInclusionProofRequest* request,
                                             v1::InclusionProof* response) {
  return Handle("GetInclusionProof", context, "", [&]() -> absl::Status {
    uint64_t size = request->tree_size();
    if (size == 0) {
      NDX_ASSIGN_OR_RETURN(audit::SignedCheckpoint latest, checkpointer_->Latest());
      size = latest.checkpoint.size;
    }
    NDX_ASSIGN_OR_RETURN(std::vector<audit::Hash> proof,
                         log_->InclusionProof(request->sequence(), size));
    NDX_ASSIGN_OR_RETURN(audit::LoggedEntry entry, log_->Entry(request->sequence()));
    response->set_sequence(request->sequence());
    response->set_tree_size(size);
    response->set_entry(std::move(entry.bytes));
    for (const audit::Hash& hash : proof) response->add_hashes(HashBytes(hash));
    return absl::OkStatus();
  });
}

grpc::Status AuditService::GetConsistencyProof(grpc::ServerContext* context,
                                               const v1::GetConsistencyProofRequest* request,
                                               v1::ConsistencyProof* response) {
  return Handle("GetConsistencyProof", context, "", [&]() -> absl::Status {
    NDX_ASSIGN_OR_RETURN(std::vector<audit::Hash> proof,
                         log_->ConsistencyProof(request->old_size(), request->new_size()));
    response->set_old_size(request->old_size());
    response->set_new_size(request->new_size());
    for (const audit::Hash& hash : proof) response->add_hashes(HashBytes(hash));
    return absl::OkStatus();
  });
}

grpc::Status AuditService::ExportEntries(grpc::ServerContext* context,
                                         const v1::ExportEntriesRequest* request,
                                         grpc::ServerWriter<v1::ExportedEntry>* writer) {
  return Handle</*kStream=*/true>("ExportEntries", context, "", [&]() -> absl::Status {
    uint64_t size = log_->size();
    uint64_t end = request->end() == 0 ? size : request->end();
    if (request->start() > end || end > size) {
      return absl::OutOfRangeError(absl::StrCat("export range [", request->start(), ", ", end,
                                                ") is outside the log of ", size, " entries"));
    }
    if (end - request->start() > kMaxExportEntries) {
      return absl::InvalidArgumentError(absl::StrCat(
          "at most ", kMaxExportEntries,
          " entries per export; continue with start = ", request->start() + kMaxExportEntries));
    }
    v1::ExportedEntry exported;
    for (uint64_t sequence = request->start(); sequence < end; ++sequence) {
      if (context->IsCancelled()) return absl::CancelledError("the client cancelled the export");
      NDX_ASSIGN_OR_RETURN(audit::LoggedEntry entry, log_->Entry(sequence));
      exported.set_sequence(sequence);
      exported.set_entry(std::move(entry.bytes));
      if (!writer->Write(exported)) return absl::CancelledError("the client went away");
    }
    return absl::OkStatus();
  });
}

}  // namespace ndx::gateway
