#include "adapters/adapter_metrics.h"

#include <utility>

namespace ndx::adapters {
namespace {

constexpr const char* kMethodNames[] = {"Fetch", "Search"};
// The dataset label of a call naming a dataset this adapter does not serve.
constexpr char kUnserved[] = "unserved";

}  // namespace

AdapterMetrics::AdapterMetrics(const std::vector<std::string>& datasets)
    : registry_(std::make_shared<prometheus::Registry>()),
      // The names are constants: Register throws only for a malformed or duplicate name, a
      // programming error that the unit tests would meet first.
      requests_(prometheus::BuildCounter()
                    .Name("ndx_adapter_requests_total")
                    .Help("Calls of the Adapter service, by the code answered")
                    .Register(*registry_)),
      duration_(prometheus::BuildHistogram()
                    .Name("ndx_adapter_request_duration_seconds")
                    .Help("Time from a call's arrival at the Adapter service to its answer")
                    .Register(*registry_)),
      backend_(prometheus::BuildHistogram()
                   .Name("ndx_adapter_backend_duration_seconds")
                   .Help("Time a call spent reading its dataset's database")
                   .Register(*registry_)) {
  for (const std::string& dataset : datasets) datasets_.emplace(dataset, MakeChildren(dataset));
  unserved_ = MakeChildren(kUnserved);
}

AdapterMetrics::DatasetChildren AdapterMetrics::MakeChildren(const std::string& dataset) {
  DatasetChildren children;
  for (int method = 0; method < 2; ++method) {
    const prometheus::Labels labels = {{"method", kMethodNames[method]}, {"dataset", dataset}};
    children[method] =
        Children{.requests = std::make_unique<metrics::CodeCounters>(requests_, labels),
                 .duration = &duration_.Add(labels, metrics::LatencyBuckets()),
                 .backend = &backend_.Add(labels, metrics::LatencyBuckets())};
  }
  return children;
}

const AdapterMetrics::Children& AdapterMetrics::For(Method method,
                                                    absl::string_view dataset) const {
  auto served = datasets_.find(dataset);
  const DatasetChildren& children = served != datasets_.end() ? served->second : unserved_;
  return children[static_cast<int>(method)];
}

void AdapterMetrics::ObserveCall(Method method, absl::string_view dataset, absl::StatusCode code,
                                 absl::Duration latency) const {
  const Children& children = For(method, dataset);
  children.requests->Increment(code);
  children.duration->Observe(absl::ToDoubleSeconds(latency));
}

void AdapterMetrics::ObserveBackend(Method method, absl::string_view dataset,
                                    absl::Duration latency) const {
  For(method, dataset).backend->Observe(absl::ToDoubleSeconds(latency));
}

}  // namespace ndx::adapters
