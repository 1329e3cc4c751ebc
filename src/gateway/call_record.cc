#include "gateway/call_record.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gateway/request_id.h"

namespace ndx::gateway {

audit::AuditRecord StartCallRecord(grpc::ServerContextBase& context, const Clock& clock,
                                   std::string operation, uint64_t registry_revision) {
  audit::AuditRecord record;
  record.time = clock.Now();
  record.request_id = NewRequestId();
  record.operation = std::move(operation);
  record.registry_revision = registry_revision;
  context.AddInitialMetadata("ndx-request-id", record.request_id);
  return record;
}

absl::Status RecordCall(audit::AuditSink& sink, const Clock& clock, audit::AuditRecord record,
                        absl::Status status) {
  record.allowed = status.ok();
  record.code = status.code();
  record.reason = std::string(status.message());
  record.latency = clock.Now() - record.time;
  if (!status.ok()) {
    spdlog::info("refused {} {} by {}: {}", record.operation, record.request_id, record.caller,
                 status.ToString());
  }
  std::string operation = record.operation;
  absl::Status appended;
  absl::Notification done;
  sink.Append(std::move(record), [&](absl::Status result) {
    appended = std::move(result);
    done.Notify();
  });
  done.WaitForNotification();
  if (!appended.ok()) {
    spdlog::error("audit append failed: {}", appended.ToString());
    if (status.ok()) {
      status = absl::UnavailableError(
          absl::StrCat(operation, " could not be audited; check it took effect and retry"));
    }
  }
  return status;
}

}  // namespace ndx::gateway
