#include "gateway/audited_call.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/logging.h"
#include "gateway/overload_refusal.h"
#include "gateway/request_id.h"

namespace ndx::gateway {

AuditedCall::AuditedCall(grpc::ServerContextBase& context, audit::AuditSink& sink,
                         const Clock& clock, std::string operation, uint64_t registry_revision)
    : AuditedCall(sink, clock, std::move(operation), registry_revision) {
  context.AddInitialMetadata("ndx-request-id", record_.request_id);
}

AuditedCall::AuditedCall(audit::AuditSink& sink, const Clock& clock, std::string operation,
                         uint64_t registry_revision)
    : sink_(sink), clock_(clock) {
  record_.time = clock_.Now();
  record_.request_id = NewRequestId();
  record_.operation = std::move(operation);
  record_.registry_revision = registry_revision;
}

void AuditedCall::Finish(absl::Status status, absl::AnyInvocable<void(absl::Status) &&> answer) {
  if (recorded_before_apply_) {
    if (!status.ok() && !failure_recorded_) RecordApplyFailure(status);
    std::move(answer)(std::move(status));
    return;
  }
  // The gateway's own limits refuse in floods: counted per second (RefusalTally), not audited
  // call by call. The reason names the limit only; the message can vary between calls.
  if (std::optional<OverloadReason> overload = OverloadReasonOf(status);
      overload.has_value() && record_.overload_reason.empty()) {
    record_.overload_reason =
        absl::StrCat("refused for overload (", OverloadReasonName(*overload), ")");
  }
  record_.allowed = status.ok();
  record_.code = status.code();
  record_.reason = std::string(status.message());
  record_.latency = clock_.Now() - record_.time;
  // Status messages name datasets, fields, grants and nodes, never a key or value: they may be
  // logged. Refusals at info; every answer at debug, an access log. Refusals for overload come in
  // floods: at debug too, RefusalTally logs them once per window.
  LogCall(
      status.ok() || !record_.overload_reason.empty() ? spdlog::level::debug : spdlog::level::info,
      {.request_id = record_.request_id,
       .caller = record_.caller,
       .method = record_.operation,
       .dataset = record_.dataset,
       .code = status.code(),
       .latency = record_.latency},
      status.ok() ? "answered" : absl::StrCat("refused: ", status.message()));
  std::string operation = record_.operation;
  std::string request_id = record_.request_id;
  sink_.Append(
      std::move(record_),
      [status = std::move(status), answer = std::move(answer), operation = std::move(operation),
       request_id = std::move(request_id)](absl::Status appended) mutable {
        if (!appended.ok()) {
          spdlog::error("audit append failed for {} {}: {}", operation, request_id,
                        appended.ToString());
          // An unaudited answer would be a leak; a refusal stays a refusal.
          if (status.ok()) {
            status = absl::UnavailableError(
                absl::StrCat(operation, " could not be audited, so it is not answered; try again"));
          }
        }
        std::move(answer)(std::move(status));
      });
}

absl::Status AuditedCall::FinishAndWait(absl::Status status) {
  absl::Status answered;
  absl::Notification done;
  Finish(std::move(status), [&](absl::Status result) {
    answered = std::move(result);
    done.Notify();
  });
  done.WaitForNotification();
  return answered;
}

absl::Status AuditedCall::RecordBeforeApply() {
  record_.allowed = true;
  record_.code = absl::StatusCode::kOk;
  record_.reason.clear();
  record_.latency = clock_.Now() - record_.time;
  absl::Status appended = AppendAndWait(record_);
  if (!appended.ok()) {
    spdlog::error("audit append failed for {} {}: {}", record_.operation, record_.request_id,
                  appended.ToString());
    return absl::UnavailableError(absl::StrCat(
        record_.operation, " could not be audited, so nothing was changed; try again"));
  }
  recorded_before_apply_ = true;
  return absl::OkStatus();
}

void AuditedCall::RecordApplyFailure(const absl::Status& failure) {
  failure_recorded_ = true;
  audit::AuditRecord record = record_;
  record.time = clock_.Now();
  record.allowed = false;
  record.code = failure.code();
  record.reason = absl::StrCat("recorded before it applied, then failed: ", failure.message());
  record.latency = record.time - record_.time;
  spdlog::error("{} {} by {} was recorded and then failed: {}", record.operation, record.request_id,
                record.caller, failure.ToString());
  absl::Status appended = AppendAndWait(std::move(record));
  if (!appended.ok()) {
    spdlog::error("audit append failed for {} {}: {}", record_.operation, record_.request_id,
                  appended.ToString());
  }
}

absl::Status AuditedCall::Record(const v1::RegistryChange& change) {
  // The change's target also goes where auditors' dataset queries find it.
  if (record_.dataset.empty()) record_.dataset = change.dataset_id();
  if (record_.grant_id.empty()) record_.grant_id = change.grant_id();
  record_.change = change;
  return RecordBeforeApply();
}

absl::Status AuditedCall::RecordGrantChange(const v1::RegistryChange& change,
                                            const v1::RateLimit* rate_limit) {
  if (rate_limit != nullptr) record_.grant_rate_limit = *rate_limit;
  return Record(change);
}

void AuditedCall::RecordFailure(const v1::RegistryChange& change, const absl::Status& failure) {
  record_.change = change;
  RecordApplyFailure(failure);
}

absl::Status AuditedCall::AppendAndWait(audit::AuditRecord record) {
  absl::Status appended;
  absl::Notification done;
  sink_.Append(std::move(record), [&](absl::Status result) {
    appended = std::move(result);
    done.Notify();
  });
  done.WaitForNotification();
  return appended;
}

}  // namespace ndx::gateway
