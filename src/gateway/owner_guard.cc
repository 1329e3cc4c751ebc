#include "gateway/owner_guard.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gateway/overload_refusal.h"

namespace ndx::gateway {

struct OwnerGuards::OwnerState {
  OwnerState(std::string owner, int max_in_flight, const OwnerGuardOptions& options)
      : owner(std::move(owner)),
        max_in_flight(max_in_flight),
        caller_share(std::max(1, max_in_flight * options.caller_share_percent / 100)),
        circuit(options.circuit),
        latency(options.shedding.min_samples, options.shedding.window) {}

  const std::string owner;
  const int max_in_flight;
  // Of max_in_flight, what one caller node may hold.
  const int caller_share;
  absl::Mutex mutex;
  int in_flight ABSL_GUARDED_BY(mutex) = 0;
  // The calls in flight of each caller node that has some.
  absl::flat_hash_map<std::string, int> in_flight_by_caller ABSL_GUARDED_BY(mutex);
  CircuitBreaker circuit ABSL_GUARDED_BY(mutex);
  LatencyEstimate latency ABSL_GUARDED_BY(mutex);
};

namespace {

// A duration as callers read it in a message: "120 ms", "0.4 ms", "9.5 s".
std::string Readable(absl::Duration duration) {
  if (duration >= absl::Seconds(10)) return absl::StrCat(absl::ToInt64Seconds(duration), " s");
  if (duration >= absl::Seconds(1)) {
    return absl::StrFormat("%.1f s", absl::ToDoubleSeconds(duration));
  }
  if (duration >= absl::Milliseconds(10)) {
    return absl::StrCat(absl::ToInt64Milliseconds(duration), " ms");
  }
  return absl::StrFormat("%.1f ms", absl::ToDoubleMilliseconds(duration));
}

// What an adapter call's code says of the adapter's health.
enum class Health { kAnswered, kFailed, kUnknown };

Health HealthOf(absl::StatusCode code, bool timeout_is_failure) {
  switch (code) {
    // The adapter could not be reached, broke, or lost data: what repeats when it is down.
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return Health::kFailed;
    case absl::StatusCode::kDeadlineExceeded:
      return timeout_is_failure ? Health::kFailed : Health::kUnknown;
    case absl::StatusCode::kCancelled:
      return Health::kUnknown;
    // Any other code is an answer: NOT_FOUND, INVALID_ARGUMENT, ... come from an adapter at work.
    default:
      return Health::kAnswered;
  }
}

// The transition of a circuit from `before` to `after`, logged once the owner's mutex is released.
struct Transition {
  CircuitBreaker::State before;
  CircuitBreaker::State after;
  int failures;
  absl::Duration open_for;
};

void LogTransition(const std::string& owner, const Transition& transition) {
  using State = CircuitBreaker::State;
  if (transition.before == transition.after) return;
  switch (transition.after) {
    case State::kOpen:
      if (transition.before == State::kClosed) {
        spdlog::warn(
            "the circuit to the adapter of {} opened after {} consecutive failures; its calls "
            "are refused for {}",
            owner, transition.failures, Readable(transition.open_for));
      } else {
        spdlog::warn("the probe call to the adapter of {} failed; its circuit is open again for {}",
                     owner, Readable(transition.open_for));
      }
      return;
    case State::kHalfOpen:
      spdlog::info("the circuit to the adapter of {} is half-open: one probe call goes through",
                   owner);
      return;
    case State::kClosed:
      spdlog::info("the adapter of {} answered the probe call; its circuit is closed", owner);
      return;
  }
}

}  // namespace

OwnerGuardOptions OwnerGuardOptionsFrom(const v1::OwnerGuardConfig& config) {
  OwnerGuardOptions options;
  options.max_in_flight = static_cast<int>(config.max_in_flight());
  for (const auto& [owner, cap] : config.max_in_flight_by_owner()) {
    options.max_in_flight_by_owner.emplace(owner, static_cast<int>(cap));
  }
  options.caller_share_percent = static_cast<int>(config.caller_share_percent());
  options.circuit = {.enabled = !config.circuit().disabled(),
                     .failures_to_open = static_cast<int>(config.circuit().failures_to_open()),
                     .open_for = absl::Milliseconds(config.circuit().open_ms())};
  options.shedding = {.enabled = !config.deadline_shedding().disabled(),
                      .min_samples = static_cast<int>(config.deadline_shedding().min_samples()),
                      .window = absl::Seconds(config.deadline_shedding().window_seconds())};
  return options;
}

OwnerGuards::Permit& OwnerGuards::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    Release(std::nullopt);
    guards_ = std::exchange(other.guards_, nullptr);
    owner_ = std::exchange(other.owner_, nullptr);
    caller_ = std::move(other.caller_);
    sent_ = other.sent_;
    probe_ = other.probe_;
    timeout_is_failure_ = other.timeout_is_failure_;
  }
  return *this;
}

void OwnerGuards::Permit::Release(std::optional<absl::StatusCode> code) {
  if (guards_ == nullptr) return;
  OwnerState& state = *owner_;
  const absl::Time now = guards_->clock_->Now();
  const Health health = code.has_value() ? HealthOf(*code, timeout_is_failure_) : Health::kUnknown;
  Transition transition{};
  {
    absl::MutexLock lock(&state.mutex);
    --state.in_flight;
    if (auto held = state.in_flight_by_caller.find(caller_);
        held != state.in_flight_by_caller.end() && --held->second == 0) {
      state.in_flight_by_caller.erase(held);
    }
    transition.before = state.circuit.state(now);
    switch (health) {
      case Health::kAnswered:
        // Errors answered at once (INVALID_ARGUMENT) would make the adapter look faster than
        // its reads are.
        if (*code == absl::StatusCode::kOk || *code == absl::StatusCode::kNotFound) {
          state.latency.Add(now, now - sent_);
        }
        state.circuit.OnSuccess(probe_);
        break;
      case Health::kFailed:
        state.circuit.OnFailure(now, probe_);
        break;
      case Health::kUnknown:
        state.circuit.OnNeither(probe_);
        break;
    }
    transition.after = state.circuit.state(now);
    transition.failures = state.circuit.consecutive_failures();
  }
  transition.open_for = guards_->options_.circuit.open_for;
  LogTransition(state.owner, transition);
  guards_ = nullptr;
  owner_ = nullptr;
}

OwnerGuards::OwnerGuards(OwnerGuardOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock) {}

OwnerGuards::~OwnerGuards() = default;

OwnerGuards::OwnerState& OwnerGuards::StateOf(const std::string& owner) {
  {
    std::shared_ptr<const OwnerMap> owners = owners_.load(std::memory_order_acquire);
    auto it = owners->find(owner);
    if (it != owners->end()) return *it->second;
  }
  absl::MutexLock lock(&create_mutex_);
  std::shared_ptr<const OwnerMap> owners = owners_.load(std::memory_order_acquire);
  auto it = owners->find(owner);
  if (it != owners->end()) return *it->second;
  auto cap = options_.max_in_flight_by_owner.find(owner);
  auto state = std::make_shared<OwnerState>(
      owner, cap == options_.max_in_flight_by_owner.end() ? options_.max_in_flight : cap->second,
      options_);
  OwnerState& result = *state;
  auto next = std::make_shared<OwnerMap>(*owners);
  next->emplace(owner, std::move(state));
  owners_.store(std::move(next), std::memory_order_release);
  return result;
}

absl::StatusOr<OwnerGuards::Permit> OwnerGuards::Admit(const std::string& owner,
                                                       const std::string& caller,
                                                       std::optional<absl::Duration> caller_time) {
  OwnerState& state = StateOf(owner);
  const absl::Time now = clock_->Now();
  Permit permit;
  Transition transition{};
  std::optional<absl::Duration> usual;
  int in_flight = 0;
  int caller_in_flight = 0;
  int failures = 0;
  absl::Duration probe_in;
  enum class Refusal { kNone, kCircuitOpen, kProbing, kDeadline, kInFlight, kCallerShare } refusal;
  {
    absl::MutexLock lock(&state.mutex);
    usual = state.latency.Estimate(now);
    failures = state.circuit.consecutive_failures();
    in_flight = state.in_flight;
    if (state.circuit.Refuses(now)) {
      const bool probing = state.circuit.state(now) == CircuitBreaker::State::kHalfOpen;
      refusal = probing ? Refusal::kProbing : Refusal::kCircuitOpen;
      probe_in = state.circuit.probe_at() - now;
    } else if (options_.shedding.enabled && caller_time.has_value() && usual.has_value() &&
               *caller_time < *usual) {
      refusal = Refusal::kDeadline;
    } else if (state.in_flight >= state.max_in_flight) {
      refusal = Refusal::kInFlight;
    } else if (int& held = state.in_flight_by_caller[caller]; held >= state.caller_share) {
      caller_in_flight = held;
      refusal = Refusal::kCallerShare;
    } else {
      refusal = Refusal::kNone;
      ++held;
      ++state.in_flight;
      permit.caller_ = caller;
      permit.probe_ = state.circuit.Admit(now);
      // state() already reads a circuit past its open time as half-open: the probe is the change.
      transition.before =
          permit.probe_ ? CircuitBreaker::State::kOpen : CircuitBreaker::State::kClosed;
      transition.after = state.circuit.state(now);
      permit.guards_ = this;
      permit.owner_ = &state;
      permit.sent_ = now;
      permit.timeout_is_failure_ =
          !caller_time.has_value() || (usual.has_value() && *caller_time >= *usual);
    }
  }
  switch (refusal) {
    case Refusal::kNone:
      LogTransition(owner, transition);
      return permit;
    case Refusal::kCircuitOpen:
      return OverloadRefusal(
          absl::StatusCode::kUnavailable, OverloadReason::kOwnerCircuitOpen,
          absl::StrCat("the circuit to the adapter of ", owner, " is open after ", failures,
                       " consecutive failures; next probe in ", Readable(probe_in)));
    case Refusal::kProbing:
      return OverloadRefusal(
          absl::StatusCode::kUnavailable, OverloadReason::kOwnerCircuitOpen,
          absl::StrCat("the circuit to the adapter of ", owner, " is half-open after ", failures,
                       " consecutive failures: one probe call is testing it; retry shortly"));
    case Refusal::kDeadline:
      return OverloadRefusal(
          absl::StatusCode::kDeadlineExceeded, OverloadReason::kDeadlineTooShort,
          absl::StrCat("the deadline leaves ", Readable(*caller_time), "; the adapter of ", owner,
                       " needs about ", Readable(*usual),
                       " (the 90th percentile of its recent answers); give the call a longer "
                       "deadline"));
    case Refusal::kInFlight: {
      const bool own = options_.max_in_flight_by_owner.contains(owner);
      return OverloadRefusal(
          absl::StatusCode::kResourceExhausted, OverloadReason::kOwnerInFlight,
          absl::StrCat("the adapter of ", owner, " has ", in_flight,
                       " calls in flight, the gateway's limit for it (",
                       own ? absl::StrCat("owner_guard.max_in_flight_by_owner[\"", owner, "\"]")
                           : "owner_guard.max_in_flight",
                       "); retry later"));
    }
    case Refusal::kCallerShare:
      return OverloadRefusal(
          absl::StatusCode::kResourceExhausted, OverloadReason::kOwnerCallerShare,
          absl::StrCat("node ", caller, " has ", caller_in_flight,
                       " calls in flight to the adapter of ", owner,
                       ", its share of the adapter's calls (owner_guard.caller_share_percent: ",
                       options_.caller_share_percent, "% of ", state.max_in_flight,
                       "); retry once some are answered"));
  }
  return absl::InternalError("unreachable");
}

std::vector<OwnerGuards::OwnerStatus> OwnerGuards::Status() const {
  const absl::Time now = clock_->Now();
  std::shared_ptr<const OwnerMap> owners = owners_.load(std::memory_order_acquire);
  std::vector<OwnerStatus> statuses;
  statuses.reserve(owners->size());
  for (const auto& [owner, state] : *owners) {
    absl::MutexLock lock(&state->mutex);
    statuses.push_back({.owner = owner,
                        .circuit = state->circuit.state(now),
                        .in_flight = state->in_flight,
                        .latency = state->latency.Estimate(now)});
  }
  return statuses;
}

}  // namespace ndx::gateway
