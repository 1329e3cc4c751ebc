#include "gateway/grant_quotas.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/grpc_status.h"
#include "common/proto_time.h"
#include "common/retry_delay.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "registry/snapshot_impl.h"
#include "testing/fake_clock.h"
#include "testing/status_matchers.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::FakeClock;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;

const absl::Time kStart = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

v1::Grant LimitedGrant(const std::string& id, double rate, uint32_t burst) {
  v1::Grant grant;
  grant.set_id(id);
  grant.set_consumer("moh/insurance");
  grant.set_dataset("mops/residents");
  grant.add_fields("full_name");
  grant.add_purposes("enrolment");
  grant.set_state(v1::GRANT_STATE_APPROVED);
  *grant.mutable_expires_at() = ToProtoTime(kStart + absl::Hours(24 * 365));
  if (rate > 0) {
    grant.mutable_rate_limit()->set_requests_per_second(rate);
    grant.mutable_rate_limit()->set_burst(burst);
  }
  return grant;
}

// A registry snapshot at `revision` holding `grants`.
std::shared_ptr<const registry::Snapshot> SnapshotOf(uint64_t revision,
                                                     const std::vector<v1::Grant>& grants) {
  std::vector<std::shared_ptr<const v1::Grant>> shared;
  for (const v1::Grant& grant : grants) shared.push_back(std::make_shared<v1::Grant>(grant));
  return registry::internal::SnapshotImpl::Build(revision, {}, {}, std::move(shared));
}

class GrantQuotasTest : public ::testing::Test {
 protected:
  // Acquires for `grant` as decided on a snapshot holding it alone, at revision 1.
  std::optional<absl::Duration> Acquire(const v1::Grant& grant) {
    return quotas_.Acquire(grant, *SnapshotOf(1, {grant}));
  }
  // How many calls in a row are admitted now, up to `at_most`.
  int AdmittedNow(const v1::Grant& grant, int at_most = 100) {
    auto snapshot = SnapshotOf(1, {grant});
    for (int admitted = 0; admitted < at_most; ++admitted) {
      if (quotas_.Acquire(grant, *snapshot).has_value()) return admitted;
    }
    return at_most;
  }

  FakeClock clock_{kStart};
  GrantQuotas quotas_{&clock_, 1.0};
};

TEST_F(GrantQuotasTest, AGrantWithoutALimitIsNeverRefusedAndHasNoBucket) {
  v1::Grant grant = LimitedGrant("g-free", 0, 0);
  EXPECT_EQ(AdmittedNow(grant, 10000), 10000);
  EXPECT_EQ(quotas_.bucket_count(), 0u);
}

TEST_F(GrantQuotasTest, TheBurstGoesAtOnceThenTokensComeBackAtTheRate) {
  v1::Grant grant = LimitedGrant("g-1", 2, 3);
  EXPECT_EQ(AdmittedNow(grant), 3);
  // Two per second: the next token is back in 500 ms.
  EXPECT_THAT(Acquire(grant), Optional(absl::Milliseconds(500)));
  clock_.Advance(absl::Milliseconds(499));
  EXPECT_THAT(Acquire(grant), Optional(absl::Milliseconds(1)));
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(Acquire(grant), std::nullopt);
  EXPECT_THAT(Acquire(grant), Optional(absl::Milliseconds(500)));
  // Refused calls take nothing: the token still comes back on time.
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(Acquire(grant).has_value());
  clock_.Advance(absl::Milliseconds(500));
  EXPECT_EQ(AdmittedNow(grant), 1);
  // However long the grant is idle, no more than the burst at once.
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(AdmittedNow(grant), 3);
}

TEST_F(GrantQuotasTest, ASlowRateRefillsAFraction) {
  v1::Grant grant = LimitedGrant("g-slow", 0.5, 1);
  EXPECT_EQ(AdmittedNow(grant), 1);
  EXPECT_THAT(Acquire(grant), Optional(absl::Seconds(2)));
  clock_.Advance(absl::Milliseconds(1500));
  EXPECT_THAT(Acquire(grant), Optional(absl::Milliseconds(500)));
  clock_.Advance(absl::Milliseconds(500));
  EXPECT_EQ(Acquire(grant), std::nullopt);
}

TEST_F(GrantQuotasTest, GrantsHaveBucketsOfTheirOwn) {
  v1::Grant first = LimitedGrant("g-1", 1, 2);
  v1::Grant second = LimitedGrant("g-2", 1, 2);
  EXPECT_EQ(AdmittedNow(first), 2);
  EXPECT_EQ(AdmittedNow(second), 2);
  EXPECT_EQ(quotas_.bucket_count(), 2u);
}

TEST_F(GrantQuotasTest, AChangedLimitAppliesFromTheNextCall) {
  v1::Grant grant = LimitedGrant("g-1", 1, 1);
  EXPECT_EQ(quotas_.Acquire(grant, *SnapshotOf(1, {grant})), std::nullopt);
  clock_.Advance(absl::Milliseconds(100));
  // The owner raises the limit: 10 per second from now on. 0.1 token came back at the old
  // rate; the rest comes at the new one.
  v1::Grant raised = LimitedGrant("g-1", 10, 5);
  auto revision_2 = SnapshotOf(2, {raised});
  EXPECT_THAT(quotas_.Acquire(raised, *revision_2), Optional(absl::Milliseconds(90)));
  clock_.Advance(absl::Milliseconds(90));
  EXPECT_EQ(quotas_.Acquire(raised, *revision_2), std::nullopt);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(AdmittedNow(raised), 5);

  // Lowered: the bucket is cut down to the new burst at once.
  clock_.Advance(absl::Seconds(10));
  v1::Grant lowered = LimitedGrant("g-1", 1, 2);
  auto revision_3 = SnapshotOf(3, {lowered});
  int admitted = 0;
  while (!quotas_.Acquire(lowered, *revision_3).has_value()) ++admitted;
  EXPECT_EQ(admitted, 2);

  // Removed: no limit at all.
  v1::Grant removed = LimitedGrant("g-1", 0, 0);
  EXPECT_EQ(AdmittedNow(removed, 1000), 1000);
}

TEST_F(GrantQuotasTest, EachReplicaEnforcesItsShare) {
  GrantQuotas half(&clock_, 0.5);
  v1::Grant grant = LimitedGrant("g-1", 10, 4);
  auto snapshot = SnapshotOf(1, {grant});
  int admitted = 0;
  while (!half.Acquire(grant, *snapshot).has_value()) ++admitted;
  EXPECT_EQ(admitted, 2);
  // 5 per second here: a token every 200 ms.
  EXPECT_THAT(half.Acquire(grant, *snapshot), Optional(absl::Milliseconds(200)));

  // A share of a one-call burst is still one call.
  v1::Grant single = LimitedGrant("g-2", 1, 1);
  auto single_snapshot = SnapshotOf(1, {single});
  EXPECT_EQ(half.Acquire(single, *single_snapshot), std::nullopt);
  EXPECT_THAT(half.Acquire(single, *single_snapshot), Optional(absl::Seconds(2)));
}

TEST_F(GrantQuotasTest, BucketsOfGrantsThatEndedOrFilledUpAreDropped) {
  std::vector<v1::Grant> grants;
  for (int i = 0; i < 200; ++i) grants.push_back(LimitedGrant(absl::StrCat("g-", i), 1, 1));
  auto revision_1 = SnapshotOf(1, grants);
  for (const v1::Grant& grant : grants)
    ASSERT_EQ(quotas_.Acquire(grant, *revision_1), std::nullopt);
  EXPECT_EQ(quotas_.bucket_count(), 200u);

  // Revision 2 revokes the first hundred; the first call that sees it drops their buckets.
  std::vector<v1::Grant> changed = grants;
  for (int i = 0; i < 100; ++i) changed[i].set_state(v1::GRANT_STATE_REVOKED);
  auto revision_2 = SnapshotOf(2, changed);
  ASSERT_TRUE(quotas_.Acquire(changed[150], *revision_2).has_value());
  EXPECT_EQ(quotas_.bucket_count(), 100u);

  // Ten seconds on, every bucket is full again, which is what a new one would be: dropped.
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(quotas_.Acquire(changed[150], *revision_2), std::nullopt);
  EXPECT_EQ(quotas_.bucket_count(), 1u);
}

TEST_F(GrantQuotasTest, ConcurrentCallsShareTheBurstExactly) {
  v1::Grant grant = LimitedGrant("g-1", 1, 1000);
  auto snapshot = SnapshotOf(1, {grant});
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (!quotas_.Acquire(grant, *snapshot).has_value()) admitted.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 1000);
}

TEST_F(GrantQuotasTest, TheRefusalNamesTheGrantAndCarriesTheRetryDelay) {
  v1::Grant grant = LimitedGrant("g-1", 5, 10);
  absl::Status refusal = quotas_.OverLimit(grant, absl::Microseconds(120500));
  EXPECT_THAT(refusal, StatusIs(absl::StatusCode::kResourceExhausted,
                                "grant g-1 of moh/insurance on mops/residents is over its rate "
                                "limit of 5 requests per second (burst 10); retry in 121 ms"));
  EXPECT_EQ(quotas_.OverLimitReason(grant),
            "grant g-1 of moh/insurance on mops/residents is over its rate limit of 5 requests "
            "per second (burst 10)");
  EXPECT_THAT(RetryDelayOf(refusal), Optional(absl::Microseconds(120500)));

  // On the wire: the standard google.rpc.Status with a RetryInfo, in the status's details.
  grpc::Status wire = ToGrpcStatus(refusal);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(wire.error_details()));
  EXPECT_EQ(details.code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_EQ(details.message(), wire.error_message());
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::RetryInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.retry_delay().seconds(), 0);
  EXPECT_EQ(info.retry_delay().nanos(), 120500000);
  // And back, as a client reads it.
  EXPECT_THAT(RetryDelayOf(FromGrpcStatus(wire)), Optional(absl::Microseconds(120500)));

  GrantQuotas half(&clock_, 0.5);
  EXPECT_THAT(half.OverLimitReason(grant), HasSubstr("(burst 10), of which this gateway allows "
                                                     "50%"));
}

TEST(RetryDelayTest, StatusesWithoutOneHaveNoDetails) {
  grpc::Status plain = ToGrpcStatus(absl::PermissionDeniedError("no grant"));
  EXPECT_TRUE(plain.error_details().empty());
  EXPECT_EQ(RetryDelayOf(FromGrpcStatus(plain)), std::nullopt);
  // A payload of the process's own stays in it.
  absl::Status own = absl::InvalidArgumentError("usage");
  own.SetPayload("type.ndx.gov.vn/ndxctl.ErrorOrigin", absl::Cord("usage"));
  EXPECT_TRUE(ToGrpcStatus(own).error_details().empty());
  EXPECT_EQ(RetryDelayMillis(absl::Microseconds(1)), 1);
  EXPECT_EQ(RetryDelayMillis(absl::Seconds(2)), 2000);
  EXPECT_EQ(RetryDelayMillis(-absl::Seconds(2)), 0);
}

}  // namespace
}  // namespace ndx::gateway
