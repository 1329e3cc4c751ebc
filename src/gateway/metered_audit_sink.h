#ifndef NDX_GATEWAY_METERED_AUDIT_SINK_H_
#define NDX_GATEWAY_METERED_AUDIT_SINK_H_

#include <memory>

#include "audit/audit_sink.h"
#include "gateway/gateway_metrics.h"

namespace ndx::gateway {

// An AuditSink in front of the gateway's sink that counts every decision as it is recorded. Each
// service's outcome goes through the sink exactly once per audit record (AuditedCall), so this is
// where every call of every service is counted and timed, without a change to any of them:
//   - ndx_gateway_requests_total and ndx_gateway_request_duration_seconds, by the record's
//     operation and the code the caller is answered: the record's code, or UNAVAILABLE for an
//     allowed call whose append failed (no audit, no answer). The duration is the record's
//     latency plus the append's, the time until the answer.
//   - ndx_audit_append_duration_seconds and ndx_audit_append_failures_total.
// Records that are not a call's outcome count too, as the audit log holds them: the second record
// of a registry change that failed after it was recorded, and the end of an event delivery.
// Per append: one hash lookup of the operation (no lock for the services' own), the wrapping of
// `done` (one allocation), two monotonic clock reads, one counter and two histogram updates (each
// histogram child takes its own mutex, prometheus-cpp's).
// Thread-safe, as the sink it wraps. `metrics` must outlive it.
class MeteredAuditSink final : public audit::AuditSink {
 public:
  MeteredAuditSink(std::unique_ptr<audit::AuditSink> sink, GatewayMetrics* metrics)
      : sink_(std::move(sink)), metrics_(metrics) {}

  void Append(audit::AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override;

 private:
  const std::unique_ptr<audit::AuditSink> sink_;
  GatewayMetrics* const metrics_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_METERED_AUDIT_SINK_H_
