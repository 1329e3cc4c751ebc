#include "ndx_bench/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ndx::bench {
namespace {

// Values below 2^kExactBits have a bucket each; above, a power-of-two range [2^k, 2^(k+1)) is
// split into kSubBuckets equal buckets.
constexpr int kExactBits = 11;
constexpr uint64_t kExact = uint64_t{1} << kExactBits;  // 2048
constexpr uint64_t kSubBuckets = kExact / 2;            // 1024
// Larger values are clamped to this (2^36 us, about 19 hours).
constexpr int kLargestBits = 36;
constexpr uint64_t kLargest = (uint64_t{1} << kLargestBits) - 1;
constexpr size_t kBuckets = kExact + (kLargestBits - kExactBits) * kSubBuckets;

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

size_t LatencyHistogram::BucketOf(uint64_t micros) {
  if (micros < kExact) return micros;
  // shift > 0 makes micros >> shift fall in [kSubBuckets, 2 * kSubBuckets).
  const int shift = std::bit_width(micros) - kExactBits;
  return kExact + (shift - 1) * kSubBuckets + ((micros >> shift) - kSubBuckets);
}

uint64_t LatencyHistogram::HighestValueOf(size_t bucket) {
  if (bucket < kExact) return bucket;
  const uint64_t shift = (bucket - kExact) / kSubBuckets + 1;
  const uint64_t mantissa = (bucket - kExact) % kSubBuckets + kSubBuckets;
  return ((mantissa + 1) << shift) - 1;
}

void LatencyHistogram::Record(uint64_t micros) {
  micros = std::min(micros, kLargest);
  ++counts_[BucketOf(micros)];
  ++count_;
  sum_ += micros;
  min_ = std::min(min_, micros);
  max_ = std::max(max_, micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::Percentile(double quantile) const {
  if (count_ == 0) return 0;
  quantile = std::clamp(quantile, 0.0, 1.0);
  // The rank (1-based) of the value sought, at least the first one. The product is nudged down
  // so that a rounding error (0.99 * 100 is 99.00000000000001) does not skip to the next rank.
  const double exact_rank = quantile * static_cast<double>(count_) * (1 - 1e-12);
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(exact_rank)));
  uint64_t seen = 0;
  for (size_t bucket = 0; bucket < kBuckets; ++bucket) {
    seen += counts_[bucket];
    if (seen >= rank) return std::min(HighestValueOf(bucket), max_);
  }
  return max_;
}

}  // namespace ndx::bench
