#ifndef NDX_METRICS_CODE_COUNTERS_H_
#define NDX_METRICS_CODE_COUNTERS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/labels.h>

#include <array>
#include <atomic>

#include "absl/status/status.h"

namespace ndx::metrics {

// The bucket bounds, in seconds, of every latency histogram: 0.5 ms to 10 s, roughly tripling,
// from an audited read on a fast disk (a few ms) to a slow adapter at the gateway's 5 s limit.
inline prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// The label value of a status code: its name as absl::StatusCodeToString and gRPC write it
// ("OK", "PERMISSION_DENIED"); a number outside gRPC's 17 codes is "UNKNOWN".
const char* CodeLabel(absl::StatusCode code);

// The counters of one family that share a set of labels and differ by their "code" label. A
// code's counter is made on its first use (prometheus::Family::Add, under the family's mutex) and
// found afterwards through an atomic pointer, without a lock: Increment costs one acquire load and
// the counter's own atomic add. Only the codes that occurred are exported.
// Thread-safe. The family must outlive it.
class CodeCounters {
 public:
  // `labels` must not name "code".
  CodeCounters(prometheus::Family<prometheus::Counter>& family, prometheus::Labels labels);
  CodeCounters(const CodeCounters&) = delete;
  CodeCounters& operator=(const CodeCounters&) = delete;

  void Increment(absl::StatusCode code) const;

 private:
  static constexpr int kCodes = 17;

  prometheus::Family<prometheus::Counter>& family_;
  const prometheus::Labels labels_;
  mutable std::array<std::atomic<prometheus::Counter*>, kCodes> counters_{};
};

}  // namespace ndx::metrics

#endif  // NDX_METRICS_CODE_COUNTERS_H_
