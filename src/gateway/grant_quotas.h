#ifndef NDX_GATEWAY_GRANT_QUOTAS_H_
#define NDX_GATEWAY_GRANT_QUOTAS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "ndx/v1/registry.pb.h"
#include "registry/snapshot.h"

namespace ndx::gateway {

// The token buckets that enforce the grants' rate limits (Grant.rate_limit) on this gateway: one
// per grant, holding up to `share` of the grant's burst and refilled at `share` of its rate,
// lazily, from the clock, when a call comes. A bucket follows its grant's limit as the snapshot
// a call was decided on has it, so a changed limit applies from the next call. A grant without a
// limit has no bucket. Buckets of grants that are gone (revoked, expired, limit removed), and
// full ones (which are what a new bucket would be), are dropped by the first call that sees a
// newer registry revision, and by one call every 10 seconds: memory follows the grants recently
// called near their limit, not the registry.
// Thread-safe: buckets are spread over 64 shards by grant id, each with its own mutex, so a call
// takes one lock that only the calls of grants hashed with its own share; the call that sweeps
// takes the shards' locks one after another, never two at once.
class GrantQuotas {
 public:
  // REQUIRES: 0 < share <= 1; `clock` outlives this.
  GrantQuotas(const Clock* clock, double share) : clock_(*clock), share_(share) {}

  GrantQuotas(const GrantQuotas&) = delete;
  GrantQuotas& operator=(const GrantQuotas&) = delete;

  // Takes one call's token from the bucket of `grant`, the grant `snapshot` authorized the call
  // with. nullopt when the call may go on (always, for a grant without a limit); otherwise it is
  // over the limit and a token is back after the returned delay.
  std::optional<absl::Duration> Acquire(const v1::Grant& grant, const registry::Snapshot& snapshot);

  // The answer to a call over `grant`'s limit: kResourceExhausted, naming the grant, its limit
  // and when to retry, with `retry_after` as its retry delay (common/retry_delay.h).
  absl::Status OverLimit(const v1::Grant& grant, absl::Duration retry_after) const;
  // What the audit log records for those refusals: the same text for every call refused under
  // one limit (RefusalTally counts them together).
  std::string OverLimitReason(const v1::Grant& grant) const;

  // Buckets held now, over all shards.
  size_t bucket_count() const;

 private:
  struct Bucket {
    // This gateway's part of the grant's limit.
    double rate = 0;
    double burst = 0;
    double tokens = 0;
    absl::Time refilled;
  };
  struct Shard {
    mutable absl::Mutex mutex;
    absl::flat_hash_map<std::string, Bucket> buckets ABSL_GUARDED_BY(mutex);
  };
  static constexpr size_t kShards = 64;

  // Sweeps every shard when `snapshot` is newer than the last sweep's or a sweep is due; the one
  // call that claims the sweep does it, the others go on.
  void MaybeSweep(const registry::Snapshot& snapshot, absl::Time now);
  // Drops the shard's buckets of grants that `snapshot` no longer limits, and the full ones.
  void Sweep(const registry::Snapshot& snapshot, absl::Time now, Shard* shard) const;

  const Clock& clock_;
  const double share_;
  std::array<Shard, kShards> shards_;
  // The revision of the last sweep's snapshot, and when the next one is due (unix nanoseconds).
  std::atomic<uint64_t> swept_revision_{0};
  std::atomic<int64_t> sweep_due_{0};
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_GRANT_QUOTAS_H_
