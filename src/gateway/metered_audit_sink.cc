#include "gateway/metered_audit_sink.h"

#include <chrono>
#include <utility>

namespace ndx::gateway {

void MeteredAuditSink::Append(audit::AuditRecord record,
                              absl::AnyInvocable<void(absl::Status) &&> done) {
  const GatewayMetrics::Operation* operation = &metrics_->ForOperation(record.operation);
  const absl::StatusCode code = record.code;
  const absl::Duration before_append = record.latency;
  const auto start = std::chrono::steady_clock::now();
  sink_->Append(std::move(record), [this, operation, code, before_append, start,
                                    done = std::move(done)](absl::Status appended) mutable {
    const absl::Duration append = absl::FromChrono(std::chrono::steady_clock::now() - start);
    metrics_->ObserveAuditAppend(append, appended.ok());
    // AuditedCall answers an allowed call whose record failed UNAVAILABLE; a refusal stays.
    const absl::StatusCode answered =
        !appended.ok() && code == absl::StatusCode::kOk ? absl::StatusCode::kUnavailable : code;
    operation->Observe(answered, before_append + append);
    std::move(done)(std::move(appended));
  });
}

}  // namespace ndx::gateway
