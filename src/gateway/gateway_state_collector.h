#ifndef NDX_GATEWAY_GATEWAY_STATE_COLLECTOR_H_
#define NDX_GATEWAY_GATEWAY_STATE_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "audit/checkpointer.h"
#include "common/clock.h"
#include "events/event_backend.h"
#include "registry/registry.h"

namespace ndx::gateway {

// What the gateway's state metrics read. Not owned; everything must outlive the collector.
struct GatewayState {
  const registry::Registry* registry = nullptr;
  const audit::AuditLog* audit_log = nullptr;
  // The audit log's own directory (AuditLogOptions::dir), for its size on disk.
  std::string audit_log_dir;
  const audit::Checkpointer* checkpointer = nullptr;
  const events::EventBackend* events = nullptr;
  const Clock* clock = &Clock::Real();
};

// The gateway's metrics that are read when scraped rather than kept up to date on every change:
//   ndx_registry_revision                         the registry snapshot's revision
//   ndx_audit_log_entries                         entries committed to the audit log
//   ndx_audit_log_disk_bytes                      the log's files on disk (RocksDB)
//   ndx_audit_checkpoint_entries                  entries covered by the latest signed checkpoint
//                                                 (0 before the first)
//   ndx_audit_checkpoint_age_seconds              time since that checkpoint was signed (none
//                                                 before the first)
//   ndx_events_backlog{subscriber,dataset}        events published and not yet acknowledged
// A scrape reads the registry snapshot, the log's size, the latest checkpoint (under the
// checkpointer's mutex), the subscriptions (under the event store's mutex) and the log's
// directory listing: no call waits on it beyond those short locks.
// Thread-safe.
class GatewayStateCollector final : public prometheus::Collectable {
 public:
  explicit GatewayStateCollector(GatewayState state) : state_(std::move(state)) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const GatewayState state_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_GATEWAY_STATE_COLLECTOR_H_
