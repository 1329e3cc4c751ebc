#include "gateway/grant_quotas.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/retry_delay.h"

namespace ndx::gateway {
namespace {

// How long a shard keeps its full buckets when the registry does not change.
constexpr absl::Duration kSweepInterval = absl::Seconds(10);
// Token counts are sums of products of doubles: a bucket refilled for exactly the retry delay it
// gave must admit the call.
constexpr double kTokenSlack = 1e-9;

// This gateway's part of a grant's limit: its rate and burst. nullopt for a grant without a
// usable limit (the registry refuses to store one that is not positive and finite).
struct Limit {
  double rate;
  double burst;
};

std::optional<Limit> LimitOf(const v1::Grant& grant, double share) {
  if (!grant.has_rate_limit()) return std::nullopt;
  const double rate = grant.rate_limit().requests_per_second();
  if (!std::isfinite(rate) || rate <= 0) return std::nullopt;
  // The registry fills burst in; a stored 0 would come from elsewhere, and means the same.
  double burst = grant.rate_limit().burst() == 0 ? std::ceil(rate) : grant.rate_limit().burst();
  // A share of a burst below one call would refuse every call.
  return Limit{.rate = rate * share, .burst = std::max(1.0, burst * share)};
}

// The tokens `bucket` holds at `now`. A clock that went back refills nothing.
double TokensAt(double tokens, double rate, double burst, absl::Time refilled, absl::Time now) {
  if (now <= refilled) return tokens;
  return std::min(burst, tokens + rate * absl::ToDoubleSeconds(now - refilled));
}

}  // namespace

std::optional<absl::Duration> GrantQuotas::Acquire(const v1::Grant& grant,
                                                   const registry::Snapshot& snapshot) {
  std::optional<Limit> limit = LimitOf(grant, share_);
  if (!limit.has_value()) return std::nullopt;
  const absl::Time now = clock_.Now();
  MaybeSweep(snapshot, now);
  Shard& shard = shards_[absl::Hash<absl::string_view>()(grant.id()) % kShards];
  absl::MutexLock lock(&shard.mutex);
  auto [it, created] = shard.buckets.try_emplace(
      grant.id(),
      Bucket{.rate = limit->rate, .burst = limit->burst, .tokens = limit->burst, .refilled = now});
  Bucket& bucket = it->second;
  if (!created) {
    // What came back under the old limit stays; the new one applies from now on.
    bucket.tokens = TokensAt(bucket.tokens, bucket.rate, bucket.burst, bucket.refilled, now);
    bucket.refilled = std::max(bucket.refilled, now);
    bucket.rate = limit->rate;
    bucket.burst = limit->burst;
    bucket.tokens = std::min(bucket.tokens, bucket.burst);
  }
  if (bucket.tokens >= 1 - kTokenSlack) {
    bucket.tokens = std::max(0.0, bucket.tokens - 1);
    return std::nullopt;
  }
  return absl::Ceil(absl::Seconds((1 - bucket.tokens) / bucket.rate), absl::Microseconds(1));
}

void GrantQuotas::MaybeSweep(const registry::Snapshot& snapshot, absl::Time now) {
  const int64_t next_due = absl::ToUnixNanos(now + kSweepInterval);
  uint64_t swept = swept_revision_.load(std::memory_order_relaxed);
  int64_t due = sweep_due_.load(std::memory_order_relaxed);
  if (snapshot.revision() > swept) {
    if (!swept_revision_.compare_exchange_strong(swept, snapshot.revision())) return;
    sweep_due_.store(next_due, std::memory_order_relaxed);
  } else if (absl::ToUnixNanos(now) < due || !sweep_due_.compare_exchange_strong(due, next_due)) {
    return;
  }
  for (Shard& shard : shards_) Sweep(snapshot, now, &shard);
}

void GrantQuotas::Sweep(const registry::Snapshot& snapshot, absl::Time now, Shard* shard) const {
  absl::MutexLock lock(&shard->mutex);
  for (auto it = shard->buckets.begin(); it != shard->buckets.end();) {
    const Bucket& bucket = it->second;
    const v1::Grant* grant = snapshot.FindGrant(it->first);
    bool gone = grant == nullptr || grant->state() != v1::GRANT_STATE_APPROVED ||
                FromProtoTime(grant->expires_at()) <= now || !LimitOf(*grant, share_).has_value();
    bool full = TokensAt(bucket.tokens, bucket.rate, bucket.burst, bucket.refilled, now) >=
                bucket.burst - kTokenSlack;
    if (gone || full) {
      shard->buckets.erase(it++);
    } else {
      ++it;
    }
  }
}

std::string GrantQuotas::OverLimitReason(const v1::Grant& grant) const {
  const v1::RateLimit& limit = grant.rate_limit();
  uint32_t burst = limit.burst() == 0
                       ? static_cast<uint32_t>(std::ceil(limit.requests_per_second()))
                       : limit.burst();
  std::string reason =
      absl::StrCat("grant ", grant.id(), " of ", grant.consumer(), " on ", grant.dataset(),
                   " is over its rate limit of ", limit.requests_per_second(),
                   " requests per second (burst ", burst, ")");
  if (share_ < 1) absl::StrAppend(&reason, ", of which this gateway allows ", share_ * 100, "%");
  return reason;
}

absl::Status GrantQuotas::OverLimit(const v1::Grant& grant, absl::Duration retry_after) const {
  return WithRetryDelay(
      absl::ResourceExhaustedError(absl::StrCat(OverLimitReason(grant), "; retry in ",
                                                RetryDelayMillis(retry_after), " ms")),
      retry_after);
}

size_t GrantQuotas::bucket_count() const {
  size_t count = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mutex);
    count += shard.buckets.size();
  }
  return count;
}

}  // namespace ndx::gateway
