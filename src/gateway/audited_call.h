#ifndef NDX_GATEWAY_AUDITED_CALL_H_
#define NDX_GATEWAY_AUDITED_CALL_H_

#include <grpcpp/server_context.h>

#include <cstdint>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "audit/audit_sink.h"
#include "common/clock.h"
#include "registry/change_recorder.h"

namespace ndx::gateway {

// One call of a gateway service and its audit record: the one place that decides "no audit, no
// answer" for every service (Exchange, Registry, Audit, Events).
//   - A call's record is appended before the caller hears the outcome. A call that succeeded but
//     whose record could not be appended is answered kUnavailable (and carries no data: gRPC
//     sends no response message with an error); a refusal stays the same refusal.
//   - A call that changes state (a registry write, an event publication) appends its record
//     before the change applies, through RecordBeforeApply (or Record, as the registry's
//     ChangeRecorder), and applies it only once that record is durable. A change that then fails
//     is followed by a second record of the same request id saying so.
// The record's time, request id (also sent to the caller as the initial metadata
// "ndx-request-id"), operation and registry revision are set at construction; the service fills
// in the rest through record(). Not thread-safe: a call's steps run one after another.
class AuditedCall final : public registry::ChangeRecorder {
 public:
  AuditedCall(grpc::ServerContextBase& context, audit::AuditSink& sink, const Clock& clock,
              std::string operation, uint64_t registry_revision);
  // A call without a gRPC server context: the gateway's own (the registry writes of its start-up),
  // or one that another transport answers with the request id (the REST/JSON face).
  AuditedCall(audit::AuditSink& sink, const Clock& clock, std::string operation,
              uint64_t registry_revision);

  audit::AuditRecord& record() { return record_; }
  const audit::AuditRecord& record() const { return record_; }

  // Appends the record of a call that ended with `status` (unless RecordBeforeApply already
  // did), then calls `answer` exactly once, possibly on another thread, with the status to
  // answer. `this` must live until `answer` runs.
  // REQUIRES: called once.
  void Finish(absl::Status status, absl::AnyInvocable<void(absl::Status) &&> answer);

  // Finish for a handler that answers on its own thread: waits for the append.
  absl::Status FinishAndWait(absl::Status status);

  // Appends the record as an allowed call now and waits until it is durable. OK then; otherwise
  // kUnavailable, and the change must not apply.
  absl::Status RecordBeforeApply();
  // Appends the record of a change that RecordBeforeApply accepted and that then failed.
  void RecordApplyFailure(const absl::Status& failure);

  // registry::ChangeRecorder: RecordBeforeApply and RecordApplyFailure with the change set.
  absl::Status Record(const v1::RegistryChange& change) override;
  void RecordFailure(const v1::RegistryChange& change, const absl::Status& failure) override;
  absl::Status RecordGrantChange(const v1::RegistryChange& change,
                                 const v1::RateLimit* rate_limit) override;

 private:
  // Appends `record` and waits; the append's status.
  absl::Status AppendAndWait(audit::AuditRecord record);

  audit::AuditSink& sink_;
  const Clock& clock_;
  audit::AuditRecord record_;
  // Set once RecordBeforeApply made the call's record durable: Finish appends only a failure.
  bool recorded_before_apply_ = false;
  bool failure_recorded_ = false;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_AUDITED_CALL_H_
