#ifndef NDX_GATEWAY_CIRCUIT_BREAKER_H_
#define NDX_GATEWAY_CIRCUIT_BREAKER_H_

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ndx::gateway {

struct CircuitOptions {
  bool enabled = true;
  // Consecutive failures that open the circuit.
  int failures_to_open = 5;
  // How long an open circuit refuses calls before it lets one probe through.
  absl::Duration open_for = absl::Seconds(10);
};

// The circuit breaker of one owner's adapter. Closed, every call goes through; after
// failures_to_open consecutive failures it opens and refuses calls for open_for; then it is
// half-open and lets one probe call through: the probe's success closes it, its failure opens it
// again. An outcome that says nothing of the adapter's health (the caller's own short deadline,
// a call never sent) changes nothing, except that a probe's frees the probe's place. Outcomes of
// calls admitted before the circuit opened do not move an open circuit.
// Not thread-safe: its owner serializes the calls; the time is passed in, so that tests choose
// it.
class CircuitBreaker {
 public:
  enum class State { kClosed, kHalfOpen, kOpen };

  explicit CircuitBreaker(CircuitOptions options) : options_(options) {}

  // Whether a call may go through at `now`; a circuit whose open time has passed counts as
  // half-open with its probe's place free.
  bool Refuses(absl::Time now) const;
  // Notes that a call goes through at `now`; true when it is the half-open circuit's probe.
  // REQUIRES: !Refuses(now).
  bool Admit(absl::Time now);

  void OnSuccess(bool probe);
  void OnFailure(absl::Time now, bool probe);
  void OnNeither(bool probe);

  // The state at `now`.
  State state(absl::Time now) const;
  int consecutive_failures() const { return consecutive_failures_; }
  // When an open circuit lets a probe through.
  absl::Time probe_at() const { return probe_at_; }
  // Whether the half-open circuit's probe is out.
  bool probing() const { return probing_; }

 private:
  void Open(absl::Time now);

  const CircuitOptions options_;
  State state_ = State::kClosed;
  int consecutive_failures_ = 0;
  absl::Time probe_at_ = absl::InfinitePast();
  bool probing_ = false;
};

// "closed", "half-open", "open".
absl::string_view CircuitStateName(CircuitBreaker::State state);

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_CIRCUIT_BREAKER_H_
