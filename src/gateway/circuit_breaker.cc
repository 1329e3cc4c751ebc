#include "gateway/circuit_breaker.h"

namespace ndx::gateway {

absl::string_view CircuitStateName(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kHalfOpen:
      return "half-open";
    case CircuitBreaker::State::kOpen:
      return "open";
  }
  return "unknown";
}

CircuitBreaker::State CircuitBreaker::state(absl::Time now) const {
  if (state_ == State::kOpen && now >= probe_at_) return State::kHalfOpen;
  return state_;
}

bool CircuitBreaker::Refuses(absl::Time now) const {
  if (!options_.enabled) return false;
  switch (state(now)) {
    case State::kClosed:
      return false;
    case State::kHalfOpen:
      return probing_;
    case State::kOpen:
      return true;
  }
  return false;
}

bool CircuitBreaker::Admit(absl::Time now) {
  if (!options_.enabled || state(now) == State::kClosed) return false;
  state_ = State::kHalfOpen;
  probing_ = true;
  return true;
}

void CircuitBreaker::Open(absl::Time now) {
  state_ = State::kOpen;
  probe_at_ = now + options_.open_for;
  probing_ = false;
}

void CircuitBreaker::OnSuccess(bool probe) {
  if (state_ == State::kClosed) {
    consecutive_failures_ = 0;
  } else if (probe) {
    state_ = State::kClosed;
    consecutive_failures_ = 0;
    probing_ = false;
  }
}

void CircuitBreaker::OnFailure(absl::Time now, bool probe) {
  if (state_ == State::kClosed) {
    if (++consecutive_failures_ >= options_.failures_to_open && options_.enabled) Open(now);
  } else if (probe) {
    ++consecutive_failures_;
    Open(now);
  }
}

void CircuitBreaker::OnNeither(bool probe) {
  if (probe && state_ == State::kHalfOpen) probing_ = false;
}

}  // namespace ndx::gateway
