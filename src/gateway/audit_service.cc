#include "gateway/audit_service.h"

#include <algorithm>
#include <chrono>
#include <optional>

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

absl::Time DeadlineOf(const grpc::ServerContext& context) {
  std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

absl::StatusOr<audit::AuditQuery> ToQuery(const v1::QueryEntriesRequest& request) {
  audit::AuditQuery query;
  if (!request.caller().empty()) query.caller = request.caller();
  if (!request.dataset().empty()) query.dataset = request.dataset();
  if (request.decision() != v1::AuditEntry::DECISION_UNSPECIFIED) {
    query.decision = request.decision();
  }
  if (!request.subject().empty()) query.subject = request.subject();
  if (request.has_from()) query.from = ToAbslTime(request.from());
  if (request.has_to()) query.to = ToAbslTime(request.to());
  return query;
}

// A forwarded call's failure, as the auditor sees it: the replica's code, and its message
// prefixed with the replica (a deadline named as such).
absl::Status FromPeer(const grpc::Status& status, const cluster::Member& member) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
          ? absl::StrCat("replica ", member.replica_id, " did not answer in time")
          : absl::StrCat("replica ", member.replica_id, ": ", status.error_message()));
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

absl::StatusOr<AuditService::Auditor> AuditService::Identify(grpc::ServerContext& context,
                                                             audit::AuditRecord& record) const {
  Auditor auditor;
  auditor.deadline = DeadlineOf(context);
  auto acting_for = context.client_metadata().find(kActingForMetadata);
  if (acting_for == context.client_metadata().end()) {
    NDX_ASSIGN_OR_RETURN(auditor.node, CallerNodeId(context, callers_));
    record.caller = auditor.node;
    return auditor;
  }
  NDX_ASSIGN_OR_RETURN(crypto::SpiffeId peer, CallerIdentity(context, callers_));
  if (peer.trust_domain() != callers_.trust_domain) {
    return absl::UnauthenticatedError(absl::StrCat(
        "identity ", peer.ToString(), " is not of trust domain ", callers_.trust_domain));
  }
  record.caller = peer.is_node() ? peer.name() : peer.ToString();
  if (peers_ == nullptr || peer != peers_->gateway_identity()) {
    return absl::PermissionDeniedError(absl::StrCat(
        peer.ToString(), " may not act for an auditor (", kActingForMetadata,
        "): only the replicas of this gateway cluster may; an auditor calls as itself"));
  }
  auditor.node = std::string(acting_for->second.data(), acting_for->second.size());
  auditor.via_peer = true;
  record.caller = auditor.node;
  record.via = peer.ToString();
  return auditor;
}

template <bool kStream, typename Body>
grpc::Status AuditService::Handle(const char* name, grpc::ServerContext* context,
                                  const std::string& subject, Body body) {
  std::shared_ptr<const registry::Snapshot> snapshot = registry_->snapshot();
  AuditedCall call(*context, *sink_, *clock_, absl::StrCat("Audit.", name), snapshot->revision());
  // An auditor's question about a citizen is itself recorded under that citizen's pseudonym.
  if (!subject.empty()) call.record().subjects.push_back(subject);

  NodeLimits::Hold held;
  absl::Status status = [&]() -> absl::Status {
    NDX_ASSIGN_OR_RETURN(Auditor auditor, Identify(*context, call.record()));
    NDX_RETURN_IF_ERROR(registry_->CheckFresh());
    // A replica acting for an auditor is believed only about who; whether that node is an active
    // auditor is this replica's own registry's answer.
    NDX_ASSIGN_OR_RETURN(const v1::Node* node, registry::ActiveCaller(*snapshot, auditor.node));
    if (!registry::HasRole(*node, v1::ROLE_AUDITOR)) {
      return absl::PermissionDeniedError(
          absl::StrCat("node ", auditor.node, " does not hold the auditor role"));
    }
    if (kStream && node_limits_ != nullptr) {
      NDX_ASSIGN_OR_RETURN(
          held, node_limits_->Acquire(auditor.node, NodeResource::kStreams, context->peer()));
    }
    return body(auditor);
  }();

  return ToGrpcStatus(call.FinishAndWait(std::move(status)));
}

absl::StatusOr<LogPage> AuditService::OwnPage(const v1::QueryEntriesRequest& request) const {
  NDX_ASSIGN_OR_RETURN(audit::AuditQuery query, ToQuery(request));
  // The size is read first: the log only grows, so the page holds exactly the entries below it.
  const uint64_t size = request.below_sequence() == 0
                            ? log_->size()
                            : std::min(log_->size(), request.below_sequence());
  NDX_ASSIGN_OR_RETURN(audit::AuditQueryResult result,
                       log_->Query(query, request.page_token(), request.page_size(), size));
  LogPage page;
  page.replica_id = peers_ == nullptr ? "" : peers_->self().replica_id;
  page.log = checkpointer_->origin();
  page.size = size;
  page.next_token = std::move(result.next_page_token);
  for (audit::LoggedEntry& logged : result.entries) page.entries.push_back(std::move(logged.entry));
  return page;
}

grpc::Status AuditService::QueryEntries(grpc::ServerContext* context,
                                        const v1::QueryEntriesRequest* request,
                                        v1::QueryEntriesResponse* response) {
  return Handle("QueryEntries", context, request->subject(), [&](const Auditor& auditor) {
    if (peers_ != nullptr && !auditor.via_peer) return MergedQuery(*request, auditor, response);
    NDX_ASSIGN_OR_RETURN(LogPage page, OwnPage(*request));
    for (v1::AuditEntry& entry : page.entries) *response->add_entries() = std::move(entry);
    response->set_next_page_token(page.next_token);
    // A replica's answer to another says where its log stands, so that the next page of the
    // merged query reads the same entries.
    if (peers_ != nullptr) {
      v1::AuditLogPosition* position = response->add_logs();
      position->set_log(page.log);
      position->set_replica_id(page.replica_id);
      position->set_size(page.size);
    }
    return absl::OkStatus();
  });
}

absl::Status AuditService::MergedQuery(const v1::QueryEntriesRequest& request,
                                       const Auditor& auditor, v1::QueryEntriesResponse* response) {
  const int page_size = request.page_size() == 0 ? 100 : request.page_size();
  if (page_size < 0 || page_size > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size ", request.page_size(), " is not in 1..1000 (0 means 100)"));
  }
  if (request.below_sequence() != 0) {
    return absl::InvalidArgumentError(
        "below_sequence is for one replica's log; a query over the cluster leaves it 0");
  }
  const std::string fingerprint = QueryFingerprint(request);
  v1::AuditPageToken token;
  if (!request.page_token().empty()) {
    NDX_ASSIGN_OR_RETURN(token, DecodePageToken(request.page_token(), fingerprint));
  }
  absl::flat_hash_map<std::string, v1::AuditPageToken::Cursor> cursors;
  for (const v1::AuditPageToken::Cursor& cursor : token.cursors()) {
    cursors[cursor.replica_id()] = cursor;
  }
  auto request_for = [&](const v1::AuditPageToken::Cursor& cursor) {
    v1::QueryEntriesRequest log_request = request;
    log_request.set_page_token(cursor.token());
    log_request.set_page_size(LogPageSize(cursor, page_size));
    log_request.set_below_sequence(cursor.size());
    return log_request;
  };

  // Every live log that has entries left is asked, this one's first (its errors are the
  // auditor's: bad filters), the others' in parallel.
  std::vector<LogPage> pages;
  std::vector<v1::AuditPageToken::Cursor> asked;
  std::vector<v1::AuditPageToken::Cursor> carried;
  const cluster::Member& self = peers_->self();
  v1::AuditPageToken::Cursor own = cursors[self.replica_id];
  cursors.erase(self.replica_id);
  if (own.done()) {
    carried.push_back(own);
  } else {
    NDX_ASSIGN_OR_RETURN(LogPage page, OwnPage(request_for(own)));
    pages.push_back(std::move(page));
    asked.push_back(own);
  }
  std::vector<cluster::Member> members;
  std::vector<v1::QueryEntriesRequest> requests;
  std::vector<v1::AuditPageToken::Cursor> member_cursors;
  for (cluster::Member& member : peers_->Others()) {
    v1::AuditPageToken::Cursor cursor = cursors[member.replica_id];
    cursor.set_replica_id(member.replica_id);
    cursors.erase(member.replica_id);
    if (cursor.done()) {
      carried.push_back(cursor);
      continue;
    }
    requests.push_back(request_for(cursor));
    member_cursors.push_back(std::move(cursor));
    members.push_back(std::move(member));
  }
  std::vector<absl::StatusOr<v1::QueryEntriesResponse>> answers =
      peers_->CallEach<v1::QueryEntriesRequest, v1::QueryEntriesResponse>(
          members, requests, auditor.node, peers_->Deadline(auditor.deadline),
          [](v1::Audit::Stub* stub, grpc::ClientContext* context,
             const v1::QueryEntriesRequest* request, v1::QueryEntriesResponse* response,
             std::function<void(grpc::Status)> done) {
            stub->async()->QueryEntries(context, request, response, std::move(done));
          });
  auto unavailable = [&](const v1::AuditPageToken::Cursor& cursor, std::string reason) {
    v1::UnavailableLog* missing = response->add_unavailable_logs();
    missing->set_replica_id(cursor.replica_id());
    missing->set_log(cursor.log().empty() ? peers_->KnownLog(cursor.replica_id()) : cursor.log());
    missing->set_reason(std::move(reason));
    // Kept as it was, so that a later page takes the log up where it stopped.
    carried.push_back(cursor);
  };
  for (size_t i = 0; i < members.size(); ++i) {
    const v1::AuditPageToken::Cursor& cursor = member_cursors[i];
    if (!answers[i].ok()) {
      unavailable(cursor, UnavailableReason(answers[i].status()));
      continue;
    }
    v1::QueryEntriesResponse& answer = *answers[i];
    if (answer.logs_size() != 1 || answer.logs(0).replica_id() != members[i].replica_id) {
      unavailable(cursor, absl::StrCat("INTERNAL: replica ", members[i].replica_id,
                                       " answered without the position of its log"));
      continue;
    }
    const v1::AuditLogPosition& position = answer.logs(0);
    if (!cursor.log().empty() && position.log() != cursor.log()) {
      unavailable(cursor, absl::StrCat("FAILED_PRECONDITION: replica ", members[i].replica_id,
                                       " now keeps log ", position.log(), ", not ", cursor.log(),
                                       " as when this query started; start it again"));
      continue;
    }
    peers_->Learn(position.replica_id(), position.log());
    LogPage page;
    page.replica_id = position.replica_id();
    page.log = position.log();
    page.size = position.size();
    page.next_token = answer.next_page_token();
    for (v1::AuditEntry& entry : *answer.mutable_entries())
      page.entries.push_back(std::move(entry));
    pages.push_back(std::move(page));
    asked.push_back(cursor);
  }
  // Logs the token names whose replicas are no longer live.
  for (auto& [replica_id, cursor] : cursors) {
    if (!cursor.done()) {
      unavailable(cursor, absl::StrCat("UNAVAILABLE: replica ", replica_id,
                                       " is not among the live replicas"));
    }
  }

  MergedPage merged = MergeLogPages(pages, asked, page_size);
  for (auto& [entry, log] : merged.entries) {
    *response->add_entries() = std::move(entry);
    response->add_entry_logs(log);
  }
  for (const LogPage& page : pages) {
    v1::AuditLogPosition* position = response->add_logs();
    position->set_log(page.log);
    position->set_replica_id(page.replica_id);
    position->set_size(page.size);
  }
  // The logs that answered decide whether there is more; those that did not are reported on
  // each page, and their cursors ride along for as long as the query goes on.
  if (merged.more) {
    v1::AuditPageToken next;
    next.set_query(fingerprint);
    for (v1::AuditPageToken::Cursor& cursor : merged.cursors) *next.add_cursors() = cursor;
    for (v1::AuditPageToken::Cursor& cursor : carried) *next.add_cursors() = cursor;
    response->set_next_page_token(EncodePageToken(next));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<cluster::Member>> AuditService::Route(const std::string& log,
                                                                   const Auditor& auditor) {
  if (log.empty() || log == checkpointer_->origin()) return std::nullopt;
  if (peers_ == nullptr) {
    return absl::NotFoundError(absl::StrCat("this gateway keeps log ", checkpointer_->origin(),
                                            " only, not ", log, "; leave log empty"));
  }
  if (auditor.via_peer) {
    return absl::InvalidArgumentError(absl::StrCat("a replica answers another about its own log ",
                                                   checkpointer_->origin(), " only, not ", log));
  }
  std::optional<cluster::Member> member = peers_->FindLog(log);
  if (!member.has_value()) {
    // A replica not asked yet, or one that came back: its log is learned from its answer.
    v1::ListLogsResponse listed;
    ListOtherLogs(auditor, &listed);
    member = peers_->FindLog(log);
  }
  if (!member.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "no live replica keeps log ", log,
        ": ListLogs (ndxctl audit logs) names the logs of the live replicas and those that do "
        "not answer"));
  }
  return member;
}

void AuditService::ListOtherLogs(const Auditor& auditor, v1::ListLogsResponse* response) {
  std::vector<cluster::Member> others = peers_->Others();
  std::vector<v1::ListLogsRequest> requests(others.size());
  std::vector<absl::StatusOr<v1::ListLogsResponse>> answers =
      peers_->CallEach<v1::ListLogsRequest, v1::ListLogsResponse>(
          others, requests, auditor.node, peers_->Deadline(auditor.deadline),
          [](v1::Audit::Stub* stub, grpc::ClientContext* context,
             const v1::ListLogsRequest* request, v1::ListLogsResponse* response,
             std::function<void(grpc::Status)> done) {
            stub->async()->ListLogs(context, request, response, std::move(done));
          });
  for (size_t i = 0; i < others.size(); ++i) {
    if (answers[i].ok() && answers[i]->logs_size() == 1 &&
        answers[i]->logs(0).replica_id() == others[i].replica_id) {
      peers_->Learn(others[i].replica_id, answers[i]->logs(0).log());
      *response->add_logs() = answers[i]->logs(0);
      continue;
    }
    v1::UnavailableLog* missing = response->add_unavailable_logs();
    missing->set_replica_id(others[i].replica_id);
    missing->set_log(peers_->KnownLog(others[i].replica_id));
    missing->set_reason(answers[i].ok() ? absl::StrCat("INTERNAL: replica ", others[i].replica_id,
                                                       " answered without its own log")
                                        : UnavailableReason(answers[i].status()));
  }
}

v1::AuditLogInfo AuditService::OwnLogInfo() const {
  v1::AuditLogInfo info;
  info.set_log(checkpointer_->origin());
  if (peers_ != nullptr) info.set_replica_id(peers_->self().replica_id);
  info.set_verifier_key(checkpointer_->VerifierKeyText());
  absl::StatusOr<audit::SignedCheckpoint> latest = checkpointer_->Latest();
  if (latest.ok()) info.set_checkpoint_size(latest->checkpoint.size);
  return info;
}

grpc::Status AuditService::ListLogs(grpc::ServerContext* context,
                                    const v1::ListLogsRequest* request,
                                    v1::ListLogsResponse* response) {
  return Handle("ListLogs", context, "", [&](const Auditor& auditor) -> absl::Status {
    *response->add_logs() = OwnLogInfo();
    if (peers_ != nullptr && !auditor.via_peer) ListOtherLogs(auditor, response);
    std::sort(response->mutable_logs()->begin(), response->mutable_logs()->end(),
              [](const v1::AuditLogInfo& a, const v1::AuditLogInfo& b) {
                return a.replica_id() < b.replica_id();
              });
    return absl::OkStatus();
  });
}

grpc::Status AuditService::GetCheckpoint(grpc::ServerContext* context,
                                         const v1::GetCheckpointRequest* request,
                                         v1::SignedCheckpoint* response) {
  return Handle("GetCheckpoint", context, "", [&](const Auditor& auditor) -> absl::Status {
    NDX_ASSIGN_OR_RETURN(std::optional<cluster::Member> member, Route(request->log(), auditor));
    if (member.has_value()) {
      NDX_ASSIGN_OR_RETURN(v1::Audit::Stub * stub, peers_->Stub(member->address));
      grpc::ClientContext forwarded;
      AuditPeers::Prepare(forwarded, auditor.node, peers_->Deadline(auditor.deadline));
      return FromPeer(stub->GetCheckpoint(&forwarded, *request, response), *member);
    }
    absl::StatusOr<audit::SignedCheckpoint> latest = checkpointer_->Latest();
    if (request->sign_now() || latest.status().code() == absl::StatusCode::kNotFound) {
      latest = checkpointer_->SignNow();
    }
    NDX_RETURN_IF_ERROR(latest.status());
    NDX_RETURN_IF_ERROR(FillCheckpoint(*latest, checkpointer_->VerifierKeyText(), response));
    response->set_log(checkpointer_->origin());
    if (peers_ != nullptr) response->set_replica_id(peers_->self().replica_id);
    return absl::OkStatus();
  });
}

grpc::Status AuditService::GetInclusionProof(grpc::ServerContext* context,
                                             const v1::GetInclusionProofRequest* request,
                                             v1::InclusionProof* response) {
  return Handle("GetInclusionProof", context, "", [&](const Auditor& auditor) -> absl::Status {
    NDX_ASSIGN_OR_RETURN(std::optional<cluster::Member> member, Route(request->log(), auditor));
    if (member.has_value()) {
      NDX_ASSIGN_OR_RETURN(v1::Audit::Stub * stub, peers_->Stub(member->address));
      grpc::ClientContext forwarded;
      AuditPeers::Prepare(forwarded, auditor.node, peers_->Deadline(auditor.deadline));
      return FromPeer(stub->GetInclusionProof(&forwarded, *request, response), *member);
    }
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
    response->set_log(checkpointer_->origin());
    return absl::OkStatus();
  });
}

grpc::Status AuditService::GetConsistencyProof(grpc::ServerContext* context,
                                               const v1::GetConsistencyProofRequest* request,
                                               v1::ConsistencyProof* response) {
  return Handle("GetConsistencyProof", context, "", [&](const Auditor& auditor) -> absl::Status {
    NDX_ASSIGN_OR_RETURN(std::optional<cluster::Member> member, Route(request->log(), auditor));
    if (member.has_value()) {
      NDX_ASSIGN_OR_RETURN(v1::Audit::Stub * stub, peers_->Stub(member->address));
      grpc::ClientContext forwarded;
      AuditPeers::Prepare(forwarded, auditor.node, peers_->Deadline(auditor.deadline));
      return FromPeer(stub->GetConsistencyProof(&forwarded, *request, response), *member);
    }
    NDX_ASSIGN_OR_RETURN(std::vector<audit::Hash> proof,
                         log_->ConsistencyProof(request->old_size(), request->new_size()));
    response->set_old_size(request->old_size());
    response->set_new_size(request->new_size());
    for (const audit::Hash& hash : proof) response->add_hashes(HashBytes(hash));
    response->set_log(checkpointer_->origin());
    return absl::OkStatus();
  });
}

grpc::Status AuditService::ExportEntries(grpc::ServerContext* context,
                                         const v1::ExportEntriesRequest* request,
                                         grpc::ServerWriter<v1::ExportedEntry>* writer) {
  return Handle</*kStream=*/true>(
      "ExportEntries", context, "", [&](const Auditor& auditor) -> absl::Status {
        NDX_ASSIGN_OR_RETURN(std::optional<cluster::Member> member, Route(request->log(), auditor));
        if (member.has_value()) {
          NDX_ASSIGN_OR_RETURN(v1::Audit::Stub * stub, peers_->Stub(member->address));
          // An export runs as long as the auditor lets it: only the auditor's deadline applies.
          grpc::ClientContext forwarded;
          AuditPeers::Prepare(forwarded, auditor.node, auditor.deadline);
          std::unique_ptr<grpc::ClientReader<v1::ExportedEntry>> reader =
              stub->ExportEntries(&forwarded, *request);
          v1::ExportedEntry exported;
          absl::Status relayed;
          while (reader->Read(&exported)) {
            if (context->IsCancelled() || !writer->Write(exported)) {
              relayed = absl::CancelledError("the client went away");
              forwarded.TryCancel();
              break;
            }
          }
          grpc::Status finished = reader->Finish();
          NDX_RETURN_IF_ERROR(relayed);
          return FromPeer(finished, *member);
        }
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
          if (context->IsCancelled())
            return absl::CancelledError("the client cancelled the export");
          NDX_ASSIGN_OR_RETURN(audit::LoggedEntry entry, log_->Entry(sequence));
          exported.set_sequence(sequence);
          exported.set_entry(std::move(entry.bytes));
          if (!writer->Write(exported)) return absl::CancelledError("the client went away");
        }
        return absl::OkStatus();
      });
}

}  // namespace ndx::gateway
