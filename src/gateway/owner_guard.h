#ifndef NDX_GATEWAY_OWNER_GUARD_H_
#define NDX_GATEWAY_OWNER_GUARD_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gateway/circuit_breaker.h"
#include "gateway/latency_estimate.h"
#include "ndx/v1/config.pb.h"

namespace ndx::gateway {

struct DeadlineSheddingOptions {
  bool enabled = true;
  // Recent answers needed before a call is refused for its deadline.
  int min_samples = 20;
  // Only answers this recent count.
  absl::Duration window = absl::Seconds(60);
};

struct OwnerGuardOptions {
  // Calls in flight to one owner's adapter at most. The default leaves an adapter more than its
  // database's connections (8 by default) can serve at once, and bounds what one dead adapter
  // holds of the gateway: 128 calls' buffers and their callers' waiting.
  int max_in_flight = 128;
  // The same cap for particular owners, by node id.
  absl::flat_hash_map<std::string, int> max_in_flight_by_owner;
  // The percent of an owner's cap one caller node may hold (at least one call). Half leaves an
  // owner's other consumers at least half of its adapter whatever one consumer sends.
  int caller_share_percent = 50;
  CircuitOptions circuit;
  DeadlineSheddingOptions shedding;
};

// The options of an owner_guard config whose defaults FinishGatewayConfig filled.
OwnerGuardOptions OwnerGuardOptionsFrom(const v1::OwnerGuardConfig& config);

// Stands between the gateway's reads and each owner's adapter, so that a slow or failing adapter
// costs the callers of that owner's datasets only, and quickly:
//   - a bulkhead: at most max_in_flight calls in flight to one adapter, and at most
//     caller_share_percent of them from one caller node; a call beyond is refused at once
//     (kResourceExhausted), without a queue: a queue at the gateway would add the adapter's
//     slowness to its callers' waiting, not throughput;
//   - a circuit breaker (CircuitBreaker): after consecutive failures, calls are refused at once
//     (kUnavailable) until a probe call finds the adapter answering again;
//   - shedding by deadline: a call whose caller's deadline leaves less time than the adapter
//     usually needs (LatencyEstimate of its recent answers) is refused (kDeadlineExceeded)
//     rather than sent to fail.
// Every refusal is an OverloadRefusal naming the owner, the limit and its setting. Each state
// change of a circuit is logged (the owner's node id only).
// Thread-safe: an owner's state is found through an atomic pointer to an immutable map (a mutex
// only when an owner is first seen) and kept under that owner's own mutex.
class OwnerGuards {
 public:
  struct OwnerState;

  // One admitted call to an adapter. Finish() reports how the adapter answered; a permit
  // destroyed without it (a call never sent) frees its place and says nothing of the adapter.
  // Move-only; must not outlive its OwnerGuards.
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept { *this = std::move(other); }
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { Release(std::nullopt); }

    // The adapter call ended with `code` (the adapter's, or the channel's).
    void Finish(absl::StatusCode code) { Release(code); }

   private:
    friend class OwnerGuards;
    void Release(std::optional<absl::StatusCode> code);

    OwnerGuards* guards_ = nullptr;
    OwnerState* owner_ = nullptr;
    std::string caller_;
    absl::Time sent_;
    bool probe_ = false;
    // Whether running out of time counts as the adapter's failure: the call had the gateway's
    // full limit, or at least the time its adapter usually needs.
    bool timeout_is_failure_ = false;
  };

  // What operators see of one owner (metrics).
  struct OwnerStatus {
    std::string owner;
    CircuitBreaker::State circuit;
    int in_flight;
    std::optional<absl::Duration> latency;
  };

  OwnerGuards(OwnerGuardOptions options, const Clock* clock);
  OwnerGuards(const OwnerGuards&) = delete;
  OwnerGuards& operator=(const OwnerGuards&) = delete;
  ~OwnerGuards();

  // Admits one call of node `caller` to `owner`'s adapter, or refuses it. `caller_time` is the
  // time the caller's deadline leaves, when it is shorter than the gateway's own limit on adapter
  // calls; none when the gateway's limit applies.
  absl::StatusOr<Permit> Admit(const std::string& owner, const std::string& caller,
                               std::optional<absl::Duration> caller_time);

  // Every owner seen so far, in no particular order.
  std::vector<OwnerStatus> Status() const;

 private:
  using OwnerMap = absl::flat_hash_map<std::string, std::shared_ptr<OwnerState>>;

  OwnerState& StateOf(const std::string& owner);

  const OwnerGuardOptions options_;
  const Clock* const clock_;
  std::atomic<std::shared_ptr<const OwnerMap>> owners_{std::make_shared<const OwnerMap>()};
  absl::Mutex create_mutex_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_OWNER_GUARD_H_
