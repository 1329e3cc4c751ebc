#include "gateway/owner_guard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "gateway/circuit_breaker.h"
#include "gateway/latency_estimate.h"
#include "gateway/overload_refusal.h"
#include "gateway/owner_guard_collector.h"
#include "metrics/exposition.h"
#include "testing/fake_clock.h"
#include "testing/prometheus_text.h"
#include "testing/status_matchers.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;

constexpr char kPopulation[] = "mops/population";
constexpr char kCivil[] = "moj/civil-status";
constexpr char kConsumer[] = "moh/insurance";

using State = CircuitBreaker::State;

// --- CircuitBreaker -------------------------------------------------------------------------

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresOnly) {
  CircuitBreaker circuit({.failures_to_open = 3, .open_for = absl::Seconds(10)});
  circuit.OnFailure(kStart, false);
  circuit.OnFailure(kStart, false);
  // An answer in between starts the count again.
  circuit.OnSuccess(false);
  circuit.OnFailure(kStart, false);
  circuit.OnFailure(kStart, false);
  EXPECT_EQ(circuit.state(kStart), State::kClosed);
  EXPECT_FALSE(circuit.Refuses(kStart));
  // An outcome that says nothing of the adapter does not break the run either.
  circuit.OnNeither(false);
  circuit.OnFailure(kStart, false);
  EXPECT_EQ(circuit.state(kStart), State::kOpen);
  EXPECT_TRUE(circuit.Refuses(kStart + absl::Seconds(9)));
  EXPECT_EQ(circuit.probe_at(), kStart + absl::Seconds(10));
}

TEST(CircuitBreakerTest, HalfOpensForOneProbeWhichClosesItOnSuccess) {
  CircuitBreaker circuit({.failures_to_open = 1, .open_for = absl::Seconds(10)});
  circuit.OnFailure(kStart, false);
  const absl::Time later = kStart + absl::Seconds(10);
  EXPECT_EQ(circuit.state(later), State::kHalfOpen);
  ASSERT_FALSE(circuit.Refuses(later));
  EXPECT_TRUE(circuit.Admit(later));
  // One probe at a time.
  EXPECT_TRUE(circuit.Refuses(later));
  // A call admitted before the circuit opened does not close it.
  circuit.OnSuccess(false);
  EXPECT_EQ(circuit.state(later), State::kHalfOpen);
  circuit.OnSuccess(true);
  EXPECT_EQ(circuit.state(later), State::kClosed);
  EXPECT_EQ(circuit.consecutive_failures(), 0);
  EXPECT_FALSE(circuit.Admit(later));
}

TEST(CircuitBreakerTest, AFailedProbeOpensItAgain) {
  CircuitBreaker circuit({.failures_to_open = 2, .open_for = absl::Seconds(10)});
  circuit.OnFailure(kStart, false);
  circuit.OnFailure(kStart, false);
  const absl::Time probe = kStart + absl::Seconds(12);
  ASSERT_TRUE(circuit.Admit(probe));
  circuit.OnFailure(probe, true);
  EXPECT_EQ(circuit.state(probe), State::kOpen);
  EXPECT_EQ(circuit.consecutive_failures(), 3);
  EXPECT_TRUE(circuit.Refuses(probe + absl::Seconds(9)));
  EXPECT_FALSE(circuit.Refuses(probe + absl::Seconds(10)));
}

TEST(CircuitBreakerTest, AProbeThatSaysNothingFreesItsPlace) {
  CircuitBreaker circuit({.failures_to_open = 1, .open_for = absl::Seconds(1)});
  circuit.OnFailure(kStart, false);
  const absl::Time later = kStart + absl::Seconds(1);
  ASSERT_TRUE(circuit.Admit(later));
  circuit.OnNeither(true);
  EXPECT_EQ(circuit.state(later), State::kHalfOpen);
  EXPECT_FALSE(circuit.Refuses(later));
  EXPECT_TRUE(circuit.Admit(later));
}

TEST(CircuitBreakerTest, ADisabledCircuitNeverRefuses) {
  CircuitBreaker circuit({.enabled = false, .failures_to_open = 1});
  for (int i = 0; i < 10; ++i) circuit.OnFailure(kStart, false);
  EXPECT_EQ(circuit.state(kStart), State::kClosed);
  EXPECT_FALSE(circuit.Refuses(kStart));
}

// --- LatencyEstimate ------------------------------------------------------------------------

TEST(LatencyEstimateTest, NoneBeforeEnoughSamples) {
  LatencyEstimate estimate(5, absl::Seconds(60));
  for (int i = 0; i < 4; ++i) estimate.Add(kStart, absl::Milliseconds(10));
  EXPECT_EQ(estimate.Estimate(kStart), std::nullopt);
  estimate.Add(kStart, absl::Milliseconds(10));
  EXPECT_THAT(estimate.Estimate(kStart), Optional(absl::Milliseconds(10)));
}

TEST(LatencyEstimateTest, IsTheNinetiethPercentile) {
  LatencyEstimate estimate(10, absl::Seconds(60));
  // 1..20 ms, in a shuffled order.
  for (int ms : {7, 19, 3, 11, 20, 1, 15, 9, 13, 5, 2, 18, 8, 16, 4, 12, 6, 17, 10, 14}) {
    estimate.Add(kStart, absl::Milliseconds(ms));
  }
  // 18 of the 20 samples are at most 18 ms.
  EXPECT_THAT(estimate.Estimate(kStart), Optional(absl::Milliseconds(18)));
}

TEST(LatencyEstimateTest, KeepsTheLatestSamplesOnly) {
  LatencyEstimate estimate(10, absl::Seconds(60));
  for (int i = 0; i < LatencyEstimate::kCapacity; ++i) {
    estimate.Add(kStart, absl::Seconds(1));
  }
  EXPECT_THAT(estimate.Estimate(kStart), Optional(absl::Seconds(1)));
  // The adapter recovered: its latest answers replace the slow ones.
  for (int i = 0; i < LatencyEstimate::kCapacity; ++i) {
    estimate.Add(kStart, absl::Milliseconds(5));
  }
  EXPECT_THAT(estimate.Estimate(kStart), Optional(absl::Milliseconds(5)));
}

TEST(LatencyEstimateTest, SamplesLeaveTheWindow) {
  LatencyEstimate estimate(3, absl::Seconds(60));
  for (int i = 0; i < 3; ++i) estimate.Add(kStart, absl::Seconds(2));
  estimate.Add(kStart + absl::Seconds(30), absl::Milliseconds(5));
  EXPECT_THAT(estimate.Estimate(kStart + absl::Seconds(59)), Optional(absl::Seconds(2)));
  // The slow spell's answers are too old now, and one recent answer is not enough.
  EXPECT_EQ(estimate.Estimate(kStart + absl::Seconds(60)), std::nullopt);
  estimate.Add(kStart + absl::Seconds(61), absl::Milliseconds(7));
  estimate.Add(kStart + absl::Seconds(61), absl::Milliseconds(6));
  EXPECT_THAT(estimate.Estimate(kStart + absl::Seconds(61)), Optional(absl::Milliseconds(7)));
}

// --- OwnerGuards ----------------------------------------------------------------------------

class OwnerGuardsTest : public ::testing::Test {
 protected:
  OwnerGuardOptions Options() {
    OwnerGuardOptions options;
    options.max_in_flight = 2;
    // One consumer may fill the bulkhead here; its share is tested on its own.
    options.caller_share_percent = 100;
    options.circuit = {.failures_to_open = 3, .open_for = absl::Seconds(10)};
    options.shedding = {.min_samples = 4, .window = absl::Seconds(60)};
    return options;
  }

  // Answers `count` calls to `owner` OK after `latency` each.
  void Answer(OwnerGuards& guards, const std::string& owner, int count, absl::Duration latency) {
    for (int i = 0; i < count; ++i) {
      auto permit = guards.Admit(owner, kConsumer, std::nullopt);
      ASSERT_THAT(permit, IsOk());
      clock_.Advance(latency);
      permit->Finish(absl::StatusCode::kOk);
    }
  }

  // Fails `count` calls to `owner` with `code`.
  void Fail(OwnerGuards& guards, const std::string& owner, int count,
            absl::StatusCode code = absl::StatusCode::kUnavailable) {
    for (int i = 0; i < count; ++i) {
      auto permit = guards.Admit(owner, kConsumer, std::nullopt);
      ASSERT_THAT(permit, IsOk());
      permit->Finish(code);
    }
  }

  OwnerGuards::OwnerStatus StatusOf(const OwnerGuards& guards, const std::string& owner) {
    for (OwnerGuards::OwnerStatus& status : guards.Status()) {
      if (status.owner == owner) return status;
    }
    ADD_FAILURE() << "no status for " << owner;
    return {};
  }

  ndx::testing::FakeClock clock_{kStart};
};

TEST_F(OwnerGuardsTest, TheBulkheadShedsAtOnceAndOnlyForItsOwner) {
  OwnerGuards guards(Options(), &clock_);
  auto a = guards.Admit(kPopulation, kConsumer, std::nullopt);
  auto b = guards.Admit(kPopulation, kConsumer, std::nullopt);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(StatusOf(guards, kPopulation).in_flight, 2);

  auto shed = guards.Admit(kPopulation, kConsumer, std::nullopt);
  EXPECT_THAT(shed, StatusIs(absl::StatusCode::kResourceExhausted,
                             "the adapter of mops/population has 2 calls in flight, the gateway's "
                             "limit for it (owner_guard.max_in_flight); retry later"));
  EXPECT_THAT(OverloadReasonOf(shed.status()), Optional(OverloadReason::kOwnerInFlight));
  EXPECT_THAT(guards.Admit(kCivil, kConsumer, std::nullopt), IsOk());

  // A call never sent frees its place too.
  *a = OwnerGuards::Permit();
  EXPECT_THAT(guards.Admit(kPopulation, kConsumer, std::nullopt), IsOk());
}

// One consumer cannot take all of an owner's adapter: beyond its share it is refused while
// another consumer of the same owner is still admitted.
TEST_F(OwnerGuardsTest, OneCallerHoldsAtMostItsShareOfAnOwnersCalls) {
  OwnerGuardOptions options = Options();
  options.max_in_flight = 4;
  options.caller_share_percent = 50;
  OwnerGuards guards(std::move(options), &clock_);
  auto a = guards.Admit(kPopulation, kConsumer, std::nullopt);
  auto b = guards.Admit(kPopulation, kConsumer, std::nullopt);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());

  auto over = guards.Admit(kPopulation, kConsumer, std::nullopt);
  EXPECT_THAT(over, StatusIs(absl::StatusCode::kResourceExhausted,
                             "node moh/insurance has 2 calls in flight to the adapter of "
                             "mops/population, its share of the adapter's calls "
                             "(owner_guard.caller_share_percent: 50% of 4); retry once some are "
                             "answered"));
  EXPECT_THAT(OverloadReasonOf(over.status()), Optional(OverloadReason::kOwnerCallerShare));
  // The owner's other consumers still have their part, and the same consumer on another owner.
  auto other = guards.Admit(kPopulation, "mof/tax", std::nullopt);
  EXPECT_THAT(other, IsOk());
  EXPECT_THAT(guards.Admit(kCivil, kConsumer, std::nullopt), IsOk());
  EXPECT_EQ(StatusOf(guards, kPopulation).in_flight, 3);

  // An answer gives the consumer's place back.
  a->Finish(absl::StatusCode::kOk);
  EXPECT_THAT(guards.Admit(kPopulation, kConsumer, std::nullopt), IsOk());
}

// A share rounds down but never to nothing.
TEST_F(OwnerGuardsTest, ACallersShareIsAtLeastOneCall) {
  OwnerGuardOptions options = Options();
  options.max_in_flight = 1;
  options.caller_share_percent = 10;
  OwnerGuards guards(std::move(options), &clock_);
  auto held = guards.Admit(kPopulation, kConsumer, std::nullopt);
  EXPECT_THAT(held, IsOk());
}

TEST_F(OwnerGuardsTest, AnOwnersOwnCapIsUsedAndNamed) {
  OwnerGuardOptions options = Options();
  options.max_in_flight_by_owner[kPopulation] = 1;
  OwnerGuards guards(std::move(options), &clock_);
  auto held = guards.Admit(kPopulation, kConsumer, std::nullopt);
  ASSERT_THAT(held, IsOk());
  EXPECT_THAT(guards.Admit(kPopulation, kConsumer, std::nullopt),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("(owner_guard.max_in_flight_by_owner[\"mops/population\"])")));
}

TEST_F(OwnerGuardsTest, TheCircuitOpensOnFailuresAndClosesWhenAProbeIsAnswered) {
  OwnerGuards guards(Options(), &clock_);
  Fail(guards, kPopulation, 3);
  EXPECT_EQ(StatusOf(guards, kPopulation).circuit, State::kOpen);

  clock_.Advance(absl::Milliseconds(5800));
  auto refused = guards.Admit(kPopulation, kConsumer, std::nullopt);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kUnavailable,
                                "the circuit to the adapter of mops/population is open after 3 "
                                "consecutive failures; next probe in 4.2 s"));
  EXPECT_THAT(OverloadReasonOf(refused.status()), Optional(OverloadReason::kOwnerCircuitOpen));
  // Other owners are not concerned.
  EXPECT_THAT(guards.Admit(kCivil, kConsumer, std::nullopt), IsOk());

  clock_.Advance(absl::Milliseconds(4200));
  EXPECT_EQ(StatusOf(guards, kPopulation).circuit, State::kHalfOpen);
  auto probe = guards.Admit(kPopulation, kConsumer, std::nullopt);
  ASSERT_THAT(probe, IsOk());
  EXPECT_THAT(guards.Admit(kPopulation, kConsumer, std::nullopt),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("is half-open after 3 consecutive failures: one probe call is "
                                 "testing it")));
  // An adapter that answers NOT_FOUND is at work.
  probe->Finish(absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusOf(guards, kPopulation).circuit, State::kClosed);
  EXPECT_THAT(guards.Admit(kPopulation, kConsumer, std::nullopt), IsOk());
}

TEST_F(OwnerGuardsTest, AFailedProbeReopensTheCircuit) {
  OwnerGuards guards(Options(), &clock_);
  Fail(guards, kPopulation, 3, absl::StatusCode::kInternal);
  clock_.Advance(absl::Seconds(10));
  auto probe = guards.Admit(kPopulation, kConsumer, std::nullopt);
  ASSERT_THAT(probe, IsOk());
  probe->Finish(absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusOf(guards, kPopulation).circuit, State::kOpen);
  EXPECT_THAT(guards.Admit(kPopulation, kConsumer, std::nullopt),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("next probe in 10 s")));
}

TEST_F(OwnerGuardsTest, AnswersAndCallersTimeoutsDoNotOpenTheCircuit) {
  OwnerGuards guards(Options(), &clock_);
  // Refusals the adapter answers are answers.
  Fail(guards, kPopulation, 5, absl::StatusCode::kInvalidArgument);
  Fail(guards, kPopulation, 5, absl::StatusCode::kCancelled);
  // Deadlines the caller chose shorter than the gateway's limit, before any estimate says what
  // the adapter needs, are the caller's.
  for (int i = 0; i < 5; ++i) {
    auto permit = guards.Admit(kPopulation, kConsumer, absl::Milliseconds(1));
    ASSERT_THAT(permit, IsOk());
    permit->Finish(absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_EQ(StatusOf(guards, kPopulation).circuit, State::kClosed);
  // With the gateway's full limit, a timeout is the adapter's.
  Fail(guards, kPopulation, 3, absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(StatusOf(guards, kPopulation).circuit, State::kOpen);
}

TEST_F(OwnerGuardsTest, ATimeoutAfterAtLeastTheUsualTimeIsTheAdaptersFailure) {
  OwnerGuards guards(Options(), &clock_);
  Answer(guards, kPopulation, 4, absl::Milliseconds(50));
  for (int i = 0; i < 3; ++i) {
    auto permit = guards.Admit(kPopulation, kConsumer, absl::Milliseconds(60));
    ASSERT_THAT(permit, IsOk());
    permit->Finish(absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_EQ(StatusOf(guards, kPopulation).circuit, State::kOpen);
}

TEST_F(OwnerGuardsTest, ShedsADeadlineShorterThanTheUsualLatencyOnceThereAreEnoughAnswers) {
  OwnerGuards guards(Options(), &clock_);
  Answer(guards, kPopulation, 3, absl::Milliseconds(120));
  // Three answers are too few to judge by.
  EXPECT_THAT(guards.Admit(kPopulation, kConsumer, absl::Milliseconds(40)), IsOk());
  Answer(guards, kPopulation, 1, absl::Milliseconds(120));
  EXPECT_THAT(StatusOf(guards, kPopulation).latency, Optional(absl::Milliseconds(120)));

  auto shed = guards.Admit(kPopulation, kConsumer, absl::Milliseconds(40));
  EXPECT_THAT(shed, StatusIs(absl::StatusCode::kDeadlineExceeded,
                             "the deadline leaves 40 ms; the adapter of mops/population needs "
                             "about 120 ms (the 90th percentile of its recent answers); give the "
                             "call a longer deadline"));
  EXPECT_THAT(OverloadReasonOf(shed.status()), Optional(OverloadReason::kDeadlineTooShort));
  EXPECT_THAT(guards.Admit(kPopulation, kConsumer, absl::Milliseconds(120)), IsOk());
  // The gateway's own limit applies: the caller's deadline is not the adapter's.
  EXPECT_THAT(guards.Admit(kPopulation, kConsumer, std::nullopt), IsOk());
  // Another owner's adapter has no estimate yet.
  EXPECT_THAT(guards.Admit(kCivil, kConsumer, absl::Milliseconds(1)), IsOk());
}

TEST_F(OwnerGuardsTest, SheddingCanBeTurnedOff) {
  OwnerGuardOptions options = Options();
  options.shedding.enabled = false;
  OwnerGuards guards(std::move(options), &clock_);
  Answer(guards, kPopulation, 4, absl::Milliseconds(120));
  EXPECT_THAT(guards.Admit(kPopulation, kConsumer, absl::Milliseconds(40)), IsOk());
}

TEST_F(OwnerGuardsTest, OnlyAnswersTeachTheLatency) {
  OwnerGuards guards(Options(), &clock_);
  for (int i = 0; i < 8; ++i) {
    auto permit = guards.Admit(kPopulation, kConsumer, std::nullopt);
    ASSERT_THAT(permit, IsOk());
    clock_.Advance(absl::Seconds(5));
    permit->Finish(i % 2 == 0 ? absl::StatusCode::kDeadlineExceeded
                              : absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(StatusOf(guards, kPopulation).latency, std::nullopt);
}

TEST_F(OwnerGuardsTest, OperatorsSeeEachOwnersCircuitCallsInFlightAndLatency) {
  OwnerGuards guards(Options(), &clock_);
  Answer(guards, kCivil, 4, absl::Milliseconds(250));
  auto in_flight = guards.Admit(kCivil, kConsumer, std::nullopt);
  ASSERT_THAT(in_flight, IsOk());
  Fail(guards, kPopulation, 3);

  OwnerGuardCollector collector(&guards);
  const prometheus::Collectable* sources[] = {&collector};
  absl::StatusOr<ndx::testing::PrometheusText> text =
      ndx::testing::PrometheusText::Parse(metrics::RenderText(sources));
  ASSERT_THAT(text, IsOk());
  const std::map<std::string, std::string> population = {{"owner", kPopulation}};
  const std::map<std::string, std::string> civil = {{"owner", kCivil}};
  EXPECT_EQ(text->Value("ndx_gateway_adapter_circuit_state", population).value_or(-1), 2);
  EXPECT_EQ(text->Value("ndx_gateway_adapter_circuit_state", civil).value_or(-1), 0);
  EXPECT_EQ(text->Value("ndx_gateway_adapter_calls_in_flight", civil).value_or(-1), 1);
  EXPECT_EQ(text->Value("ndx_gateway_adapter_calls_in_flight", population).value_or(-1), 0);
  EXPECT_DOUBLE_EQ(text->Value("ndx_gateway_adapter_latency_estimate_seconds", civil).value_or(-1),
                   0.25);
  EXPECT_THAT(text->Value("ndx_gateway_adapter_latency_estimate_seconds", population),
              StatusIs(absl::StatusCode::kNotFound));

  clock_.Advance(absl::Seconds(10));
  text = ndx::testing::PrometheusText::Parse(metrics::RenderText(sources));
  ASSERT_THAT(text, IsOk());
  EXPECT_EQ(text->Value("ndx_gateway_adapter_circuit_state", population).value_or(-1), 1);
}

}  // namespace
}  // namespace ndx::gateway
