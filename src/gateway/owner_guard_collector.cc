#include "gateway/owner_guard_collector.h"

#include "metrics/gauge_family.h"

namespace ndx::gateway {
namespace {

double CircuitValue(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return 0;
    case CircuitBreaker::State::kHalfOpen:
      return 1;
    case CircuitBreaker::State::kOpen:
      return 2;
  }
  return 0;
}

}  // namespace

std::vector<prometheus::MetricFamily> OwnerGuardCollector::Collect() const {
  std::vector<metrics::GaugeSample> circuits;
  std::vector<metrics::GaugeSample> in_flight;
  std::vector<metrics::GaugeSample> latencies;
  for (const OwnerGuards::OwnerStatus& owner : guards_->Status()) {
    prometheus::Labels labels = {{"owner", owner.owner}};
    circuits.push_back({.labels = labels, .value = CircuitValue(owner.circuit)});
    in_flight.push_back({.labels = labels, .value = static_cast<double>(owner.in_flight)});
    if (owner.latency.has_value()) {
      latencies.push_back({.labels = labels, .value = absl::ToDoubleSeconds(*owner.latency)});
    }
  }
  std::vector<prometheus::MetricFamily> families;
  families.push_back(metrics::GaugeFamily(
      "ndx_gateway_adapter_circuit_state",
      "State of the circuit breaker to the owner's adapter: 0 closed, 1 half-open (one probe "
      "call allowed), 2 open (calls refused)",
      circuits));
  families.push_back(metrics::GaugeFamily("ndx_gateway_adapter_calls_in_flight",
                                          "Calls sent to the owner's adapter and not yet answered",
                                          in_flight));
  families.push_back(metrics::GaugeFamily(
      "ndx_gateway_adapter_latency_estimate_seconds",
      "The 90th percentile of the owner's adapter's recent answers, against which deadlines are "
      "checked; absent before enough answers",
      latencies));
  return families;
}

}  // namespace ndx::gateway
