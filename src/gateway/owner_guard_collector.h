#ifndef NDX_GATEWAY_OWNER_GUARD_COLLECTOR_H_
#define NDX_GATEWAY_OWNER_GUARD_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "gateway/owner_guard.h"

namespace ndx::gateway {

// The state of each owner's guards, read when scraped:
//   ndx_gateway_adapter_circuit_state{owner}              0 closed, 1 half-open, 2 open
//   ndx_gateway_adapter_calls_in_flight{owner}            calls sent and not yet answered
//   ndx_gateway_adapter_latency_estimate_seconds{owner}   the time its adapter usually needs
//                                                         (absent before enough answers)
// for every owner whose adapter the gateway has called since it started. A scrape takes each
// owner's mutex briefly. Thread-safe; `guards` must outlive it.
class OwnerGuardCollector final : public prometheus::Collectable {
 public:
  explicit OwnerGuardCollector(const OwnerGuards* guards) : guards_(guards) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const OwnerGuards* const guards_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_OWNER_GUARD_COLLECTOR_H_
