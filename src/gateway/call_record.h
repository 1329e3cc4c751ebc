#ifndef NDX_GATEWAY_CALL_RECORD_H_
#define NDX_GATEWAY_CALL_RECORD_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"
#include "audit/audit_sink.h"
#include "common/clock.h"

namespace ndx::gateway {

// A record for a call starting now: its time, a new request id (also sent to the caller as the
// initial metadata "ndx-request-id"), the operation name and the registry revision in force.
audit::AuditRecord StartCallRecord(grpc::ServerContextBase& context, const Clock& clock,
                                   std::string operation, uint64_t registry_revision);

// Completes `record` with the outcome `status` of a blocking (non-Exchange) call, logs a refusal,
// appends the record and waits until it is durable. Returns the status to answer: `status`
// itself, or kUnavailable when an otherwise successful call could not be recorded (its effect
// may have happened; the caller must know that its record is missing).
absl::Status RecordCall(audit::AuditSink& sink, const Clock& clock, audit::AuditRecord record,
                        absl::Status status);

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_CALL_RECORD_H_
