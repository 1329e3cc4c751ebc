#ifndef NDX_BENCH_NDX_BENCH_LATENCY_HISTOGRAM_H_
#define NDX_BENCH_NDX_BENCH_LATENCY_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ndx::bench {

// Counts latencies in microseconds, HdrHistogram-style: every value below 2048 us has a bucket of
// its own (exact), larger values share buckets 1/1024 of their size wide (within 0.1%), so a run
// of any length needs a fixed 230 KiB instead of one sample per call. Values above about 19 hours
// are counted as that. Min, max, count and sum are exact.
// Thread-compatible: the load generator keeps one per thread and merges them at the end.
class LatencyHistogram {
 public:
  LatencyHistogram();

  void Record(uint64_t micros);
  // Adds the counts of `other` to this one.
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  // 0 when empty.
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

  // The smallest recorded value v such that at least `quantile` (0 < quantile <= 1) of the values
  // are <= v; reported as the highest value of its bucket, never above max(). 0 when empty.
  uint64_t Percentile(double quantile) const;

 private:
  static size_t BucketOf(uint64_t micros);
  static uint64_t HighestValueOf(size_t bucket);

  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace ndx::bench

#endif  // NDX_BENCH_NDX_BENCH_LATENCY_HISTOGRAM_H_
