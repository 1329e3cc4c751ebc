#ifndef NDX_GATEWAY_AUDIT_SERVICE_H_
#define NDX_GATEWAY_AUDIT_SERVICE_H_

#include <string>

#include "audit/audit_log.h"
#include "audit/audit_sink.h"
#include "audit/checkpointer.h"
#include "common/clock.h"
#include "gateway/audit_fanout.h"
#include "gateway/caller.h"
#include "gateway/node_limits.h"
#include "ndx/v1/audit.grpc.pb.h"
#include "registry/registry.h"

namespace ndx::gateway {

// The auditors' gRPC API over the gateway's audit log: queries, checkpoints, proofs, export.
// Every call requires a registered, active node holding ROLE_AUDITOR, and is itself recorded in
// the log (the subject of a query only as its pseudonym). An export holds one of the caller's
// streams (NodeLimits) while it runs.
//
// In a gateway cluster (with `peers`) it answers for every replica's log: queries are merged
// from every live replica's log, and calls about another replica's log are forwarded to it,
// each time on behalf of the auditor (AuditPeers). A call from another replica, acting for an
// auditor, is answered from this replica's own log only, and recorded in it with the auditor as
// the caller. Nothing is ever written to another replica's log. Thread-safe.
class AuditService final : public v1::Audit::Service {
 public:
  // Without `node_limits`, exports are not capped per node. Without `peers`, a single gateway:
  // the service answers from its own log only and refuses calls acting for an auditor.
  AuditService(CallerPolicy callers, registry::Registry* registry, audit::AuditLog* log,
               audit::Checkpointer* checkpointer, audit::AuditSink* sink, const Clock* clock,
               NodeLimits* node_limits = nullptr, AuditPeers* peers = nullptr)
      : callers_(std::move(callers)),
        registry_(registry),
        log_(log),
        checkpointer_(checkpointer),
        sink_(sink),
        clock_(clock),
        node_limits_(node_limits),
        peers_(peers) {}

  grpc::Status QueryEntries(grpc::ServerContext* context, const v1::QueryEntriesRequest* request,
                            v1::QueryEntriesResponse* response) override;
  grpc::Status GetCheckpoint(grpc::ServerContext* context, const v1::GetCheckpointRequest* request,
                             v1::SignedCheckpoint* response) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* context,
                                 const v1::GetInclusionProofRequest* request,
                                 v1::InclusionProof* response) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* context,
                                   const v1::GetConsistencyProofRequest* request,
                                   v1::ConsistencyProof* response) override;
  grpc::Status ExportEntries(grpc::ServerContext* context, const v1::ExportEntriesRequest* request,
                             grpc::ServerWriter<v1::ExportedEntry>* writer) override;
  grpc::Status ListLogs(grpc::ServerContext* context, const v1::ListLogsRequest* request,
                        v1::ListLogsResponse* response) override;

 private:
  // Who a call is answered for.
  struct Auditor {
    std::string node;
    // Another replica asks on the auditor's behalf: answer from this log only.
    bool via_peer = false;
    // When the auditor's call ends.
    absl::Time deadline = absl::InfiniteFuture();
  };

  // Identifies the caller (an auditor node, or a replica acting for one), checks the auditor
  // role, runs `body(auditor)`, records the call, and converts the status. `subject` is a data
  // subject the call is about, recorded only as a pseudonym. A stream (kStream) holds one of the
  // auditor's streams while `body` runs.
  template <bool kStream = false, typename Body>
  grpc::Status Handle(const char* name, grpc::ServerContext* context, const std::string& subject,
                      Body body);
  // The auditor a call is from: the caller's node, or the one named in kActingForMetadata by
  // the gateway identity. Sets the record's caller (and via).
  absl::StatusOr<Auditor> Identify(grpc::ServerContext& context, audit::AuditRecord& record) const;

  // A page of this replica's own log.
  absl::StatusOr<LogPage> OwnPage(const v1::QueryEntriesRequest& request) const;
  absl::Status MergedQuery(const v1::QueryEntriesRequest& request, const Auditor& auditor,
                           v1::QueryEntriesResponse* response);
  // This replica's log as ListLogs describes it.
  v1::AuditLogInfo OwnLogInfo() const;
  // The replica `log` names, or nullopt for this gateway's own log (also for an empty name).
  // kNotFound for a log no live replica keeps.
  absl::StatusOr<std::optional<cluster::Member>> Route(const std::string& log,
                                                       const Auditor& auditor);
  // ListLogs of every other live replica, on behalf of `auditor`.
  void ListOtherLogs(const Auditor& auditor, v1::ListLogsResponse* response);

  const CallerPolicy callers_;
  registry::Registry* const registry_;
  audit::AuditLog* const log_;
  audit::Checkpointer* const checkpointer_;
  audit::AuditSink* const sink_;
  const Clock* const clock_;
  NodeLimits* const node_limits_;
  AuditPeers* const peers_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_AUDIT_SERVICE_H_
