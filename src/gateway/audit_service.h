#ifndef NDX_GATEWAY_AUDIT_SERVICE_H_
#define NDX_GATEWAY_AUDIT_SERVICE_H_

#include <string>

#include "audit/audit_log.h"
#include "audit/audit_sink.h"
#include "audit/checkpointer.h"
#include "common/clock.h"
#include "gateway/caller.h"
#include "gateway/node_limits.h"
#include "ndx/v1/audit.grpc.pb.h"
#include "registry/registry.h"

namespace ndx::gateway {

// The auditors' gRPC API over the gateway's audit log: queries, checkpoints, proofs, export.
// Every call requires a registered, active node holding ROLE_AUDITOR, and is itself recorded in
// the log (the subject of a query only as its pseudonym). An export holds one of the caller's
// streams (NodeLimits) while it runs. Thread-safe.
class AuditService final : public v1::Audit::Service {
 public:
  // Without `node_limits`, exports are not capped per node.
  AuditService(CallerPolicy callers, registry::Registry* registry, audit::AuditLog* log,
               audit::Checkpointer* checkpointer, audit::AuditSink* sink, const Clock* clock,
               NodeLimits* node_limits = nullptr)
      : callers_(std::move(callers)),
        registry_(registry),
        log_(log),
        checkpointer_(checkpointer),
        sink_(sink),
        clock_(clock),
        node_limits_(node_limits) {}

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

 private:
  // Identifies the caller, checks the auditor role, runs `body`, records the call, and converts
  // the status. `subject` is a data subject the call is about, recorded only as a pseudonym. A
  // stream (kStream) holds one of the caller's streams while `body` runs.
  template <bool kStream = false, typename Body>
  grpc::Status Handle(const char* name, grpc::ServerContext* context, const std::string& subject,
                      Body body);

  const CallerPolicy callers_;
  registry::Registry* const registry_;
  audit::AuditLog* const log_;
  audit::Checkpointer* const checkpointer_;
  audit::AuditSink* const sink_;
  const Clock* const clock_;
  NodeLimits* const node_limits_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_AUDIT_SERVICE_H_
