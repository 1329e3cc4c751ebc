#ifndef NDX_ADAPTERS_ADAPTER_METRICS_H_
#define NDX_ADAPTERS_ADAPTER_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "metrics/code_counters.h"

namespace ndx::adapters {

// The adapter's metrics, in a registry of their own:
//   ndx_adapter_requests_total{method,dataset,code}           counter
//   ndx_adapter_request_duration_seconds{method,dataset}       histogram
//   ndx_adapter_backend_duration_seconds{method,dataset}       histogram
// `dataset` is a served dataset's id, or "unserved" for a call naming any other: a request's own
// text never becomes a label. Keys, filter values, purposes and callers are never labels.
// Every (method, served dataset) has its children resolved at construction, so a call costs one
// hash lookup of its dataset id in an immutable map, no lock; then a counter's atomic add and a
// histogram update (under that child's own mutex, prometheus-cpp's).
// Thread-safe.
class AdapterMetrics {
 public:
  enum class Method { kFetch = 0, kSearch = 1 };

  // `datasets`: the ids of the served datasets.
  explicit AdapterMetrics(const std::vector<std::string>& datasets);
  AdapterMetrics(const AdapterMetrics&) = delete;
  AdapterMetrics& operator=(const AdapterMetrics&) = delete;

  // A call that ended with `code` after `latency`.
  void ObserveCall(Method method, absl::string_view dataset, absl::StatusCode code,
                   absl::Duration latency) const;
  // The time a call spent in its backend (the database read), whatever its outcome.
  void ObserveBackend(Method method, absl::string_view dataset, absl::Duration latency) const;

  const prometheus::Registry& registry() const { return *registry_; }

 private:
  struct Children {
    std::unique_ptr<metrics::CodeCounters> requests;
    prometheus::Histogram* duration = nullptr;
    prometheus::Histogram* backend = nullptr;
  };
  using DatasetChildren = std::array<Children, 2>;

  DatasetChildren MakeChildren(const std::string& dataset);
  const Children& For(Method method, absl::string_view dataset) const;

  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Histogram>& backend_;
  // Built in the constructor, then only read.
  absl::flat_hash_map<std::string, DatasetChildren> datasets_;
  DatasetChildren unserved_;
};

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_ADAPTER_METRICS_H_
