#include "gateway/latency_estimate.h"

#include <algorithm>

namespace ndx::gateway {

void LatencyEstimate::Add(absl::Time now, absl::Duration latency) {
  samples_[next_] = {.at = now, .latency = latency};
  next_ = (next_ + 1) % kCapacity;
  size_ = std::min(size_ + 1, kCapacity);
  cached_until_ = absl::InfinitePast();
}

std::optional<absl::Duration> LatencyEstimate::Estimate(absl::Time now) {
  if (now >= cached_until_) Recompute(now);
  return cached_;
}

void LatencyEstimate::Recompute(absl::Time now) {
  std::array<absl::Duration, kCapacity> recent;
  int count = 0;
  absl::Time oldest = absl::InfiniteFuture();
  for (int i = 0; i < size_; ++i) {
    if (now - samples_[i].at >= window_) continue;
    recent[count++] = samples_[i].latency;
    oldest = std::min(oldest, samples_[i].at);
  }
  cached_until_ = count == 0 ? absl::InfiniteFuture() : oldest + window_;
  if (count < min_samples_) {
    cached_.reset();
    return;
  }
  // The smallest latency that at least 90 % of the samples do not exceed.
  const int rank = (count * 9 + 9) / 10 - 1;
  std::nth_element(recent.begin(), recent.begin() + rank, recent.begin() + count);
  cached_ = recent[rank];
}

}  // namespace ndx::gateway
