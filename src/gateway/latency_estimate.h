#ifndef NDX_GATEWAY_LATENCY_ESTIMATE_H_
#define NDX_GATEWAY_LATENCY_ESTIMATE_H_

#include <array>
#include <optional>

#include "absl/time/time.h"

namespace ndx::gateway {

// The time an adapter usually needs to answer: the 90th percentile of its latest answers (at
// most kCapacity) that are more recent than `window`; none until min_samples such answers.
// Old answers leave the window so that an estimate from a slow spell does not outlive it: calls
// refused because of it would never be answered to correct it.
// Not thread-safe: its owner serializes the calls; the time is passed in, so that tests choose
// it. Estimate() costs one pass over at most kCapacity samples, and is cached until the next
// Add or the next sample leaving the window.
class LatencyEstimate {
 public:
  static constexpr int kCapacity = 64;

  // REQUIRES: 1 <= min_samples <= kCapacity.
  LatencyEstimate(int min_samples, absl::Duration window)
      : min_samples_(min_samples), window_(window) {}

  void Add(absl::Time now, absl::Duration latency);
  std::optional<absl::Duration> Estimate(absl::Time now);

 private:
  struct Sample {
    absl::Time at;
    absl::Duration latency;
  };

  void Recompute(absl::Time now);

  const int min_samples_;
  const absl::Duration window_;
  std::array<Sample, kCapacity> samples_;
  // Where the next sample goes; samples_[0, size_) hold the latest ones.
  int next_ = 0;
  int size_ = 0;
  std::optional<absl::Duration> cached_;
  // The cache holds until this time (a sample leaves the window) or the next Add.
  absl::Time cached_until_ = absl::InfinitePast();
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_LATENCY_ESTIMATE_H_
