// A grant's rate limit: asked for by the consumer, set by the owner on approval or later, checked,
// recorded with the change, stored, and listed.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>

#include "common/proto_time.h"
#include "registry/registry_admin.h"
#include "registry_test_util.h"

namespace ndx::registry::testing {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

v1::RateLimit Limit(double rate, uint32_t burst) {
  v1::RateLimit limit;
  limit.set_requests_per_second(rate);
  limit.set_burst(burst);
  return limit;
}

MATCHER_P2(HasLimit, rate, burst, "") {
  return arg.has_rate_limit() && arg.rate_limit().requests_per_second() == rate &&
         arg.rate_limit().burst() == static_cast<uint32_t>(burst);
}

class GrantRateLimitTest : public RegistryFixture {
 protected:
  absl::StatusOr<v1::Grant> Request(std::optional<v1::RateLimit> limit) {
    v1::RequestGrantRequest request =
        GrantRequest({"birth_id"}, {"statistics"}, kStart + absl::Hours(24));
    if (limit.has_value()) *request.mutable_rate_limit() = *limit;
    return admin_->RequestGrant(kConsumer, request, recorder_);
  }
  absl::StatusOr<v1::Grant> Approve(const std::string& id, std::optional<v1::RateLimit> limit,
                                    absl::string_view caller = kOwner) {
    v1::ApproveGrantRequest request;
    request.set_grant_id(id);
    if (limit.has_value()) *request.mutable_rate_limit() = *limit;
    return admin_->ApproveGrant(caller, request, recorder_);
  }
  absl::StatusOr<v1::Grant> SetRate(const std::string& id, std::optional<v1::RateLimit> limit,
                                    absl::string_view caller = kOwner) {
    v1::SetGrantRateLimitRequest request;
    request.set_grant_id(id);
    if (limit.has_value()) *request.mutable_rate_limit() = *limit;
    return admin_->SetGrantRateLimit(caller, request, recorder_);
  }
  const v1::Grant& Stored(const std::string& id) {
    snapshot_ = registry_->snapshot();
    return *snapshot_->FindGrant(id);
  }

  std::shared_ptr<const Snapshot> snapshot_;
};

TEST_F(GrantRateLimitTest, TheConsumerAsksAndTheOwnerDecides) {
  absl::StatusOr<v1::Grant> requested = Request(Limit(10, 20));
  ASSERT_THAT(requested, IsOk());
  EXPECT_THAT(*requested, HasLimit(10, 20));
  EXPECT_THAT(Stored(requested->id()), HasLimit(10, 20));

  // Approving without a limit keeps the one asked for; with one, replaces it.
  absl::StatusOr<v1::Grant> kept = Approve(requested->id(), std::nullopt);
  ASSERT_THAT(kept, IsOk());
  EXPECT_THAT(*kept, HasLimit(10, 20));
  absl::StatusOr<v1::Grant> other = Request(Limit(10, 20));
  ASSERT_THAT(other, IsOk());
  absl::StatusOr<v1::Grant> replaced = Approve(other->id(), Limit(2, 4));
  ASSERT_THAT(replaced, IsOk());
  EXPECT_THAT(*replaced, HasLimit(2, 4));
  EXPECT_THAT(Stored(other->id()), HasLimit(2, 4));

  // A request without a limit gives a grant without one, unless the owner sets one.
  absl::StatusOr<v1::Grant> unlimited = Request(std::nullopt);
  ASSERT_THAT(unlimited, IsOk());
  EXPECT_FALSE(unlimited->has_rate_limit());
  absl::StatusOr<v1::Grant> limited = Approve(unlimited->id(), Limit(1, 1));
  ASSERT_THAT(limited, IsOk());
  EXPECT_THAT(*limited, HasLimit(1, 1));
}

TEST_F(GrantRateLimitTest, ABurstLeftOutIsOneSecondsWorth) {
  absl::StatusOr<v1::Grant> fast = Request(Limit(12.5, 0));
  ASSERT_THAT(fast, IsOk());
  EXPECT_THAT(*fast, HasLimit(12.5, 13));
  absl::StatusOr<v1::Grant> slow = Request(Limit(0.2, 0));
  ASSERT_THAT(slow, IsOk());
  EXPECT_THAT(*slow, HasLimit(0.2, 1));
}

TEST_F(GrantRateLimitTest, LimitsAreChecked) {
  const double kInf = std::numeric_limits<double>::infinity();
  EXPECT_THAT(Request(Limit(0, 0)),
              StatusIs(kInvalid, HasSubstr("rate_limit is empty: give requests_per_second")));
  EXPECT_THAT(Request(Limit(0, 5)),
              StatusIs(kInvalid, HasSubstr("rate_limit.burst is 5 without requests_per_second")));
  EXPECT_THAT(Request(Limit(-1, 5)),
              StatusIs(kInvalid,
                       "rate_limit.requests_per_second is -1; it must be a finite "
                       "number greater than 0, e.g. 10, or 0.5 for a call every two "
                       "seconds"));
  EXPECT_THAT(Request(Limit(kInf, 5)),
              StatusIs(kInvalid, HasSubstr("rate_limit.requests_per_second is inf")));
  EXPECT_THAT(Request(Limit(std::nan(""), 5)),
              StatusIs(kInvalid, HasSubstr("must be a finite number greater than 0")));
  EXPECT_THAT(Request(Limit(2e6, 5)), StatusIs(kInvalid, HasSubstr("at most 1000000 is allowed")));
  EXPECT_THAT(Request(Limit(10, 2000000)),
              StatusIs(kInvalid, "rate_limit.burst is 2000000; at most 1000000 is allowed"));
  EXPECT_TRUE(registry_->snapshot()->Grants().empty());

  absl::StatusOr<v1::Grant> requested = Request(std::nullopt);
  ASSERT_THAT(requested, IsOk());
  EXPECT_THAT(Approve(requested->id(), Limit(0, 3)),
              StatusIs(kInvalid, HasSubstr("burst is 3 without requests_per_second")));
  EXPECT_EQ(Stored(requested->id()).state(), v1::GRANT_STATE_REQUESTED);
  ASSERT_THAT(Approve(requested->id(), std::nullopt), IsOk());
  EXPECT_THAT(SetRate(requested->id(), Limit(0, 0)), StatusIs(kInvalid, HasSubstr("is empty")));
  EXPECT_FALSE(Stored(requested->id()).has_rate_limit());
}

TEST_F(GrantRateLimitTest, TheOwnerChangesOrRemovesTheLimit) {
  std::string id = Grant({"birth_id"}, {"statistics"});
  absl::StatusOr<v1::Grant> set = SetRate(id, Limit(5, 10));
  ASSERT_THAT(set, IsOk());
  EXPECT_THAT(*set, HasLimit(5, 10));
  EXPECT_EQ(set->state(), v1::GRANT_STATE_APPROVED);
  EXPECT_THAT(Stored(id), HasLimit(5, 10));
  uint64_t revision = registry_->snapshot()->revision();

  absl::StatusOr<v1::Grant> removed = SetRate(id, std::nullopt);
  ASSERT_THAT(removed, IsOk());
  EXPECT_FALSE(removed->has_rate_limit());
  EXPECT_FALSE(Stored(id).has_rate_limit());
  EXPECT_GT(registry_->snapshot()->revision(), revision);

  // A requested grant can be limited before it is approved.
  std::string requested = Grant({"birth_id"}, {"statistics"}, absl::Hours(24), false);
  ASSERT_THAT(SetRate(requested, Limit(1, 2)), IsOk());
  EXPECT_THAT(Stored(requested), HasLimit(1, 2));
}

TEST_F(GrantRateLimitTest, OnlyTheOwnerSetsTheLimitOfALiveGrant) {
  std::string id = Grant({"birth_id"}, {"statistics"});
  const std::string expected =
      "only the owner of dataset civil/births (node civil/registry) may set the rate limit of "
      "grant " +
      id;
  for (const char* caller : {kConsumer, kOperator, kOther}) {
    EXPECT_THAT(SetRate(id, Limit(1000, 1000), caller),
                StatusIs(absl::StatusCode::kPermissionDenied, expected));
  }
  EXPECT_THAT(SetRate(id, Limit(1, 1), "nobody/here"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(SetRate("", Limit(1, 1)), StatusIs(kInvalid, "grant_id is required"));
  EXPECT_THAT(SetRate("g-0123456789abcdef", Limit(1, 1)),
              StatusIs(absl::StatusCode::kNotFound, "grant g-0123456789abcdef does not exist"));
  v1::RevokeGrantRequest revoke;
  revoke.set_grant_id(id);
  ASSERT_THAT(admin_->RevokeGrant(kOwner, revoke, recorder_), IsOk());
  EXPECT_THAT(SetRate(id, Limit(1, 1)), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                 HasSubstr("grant " + id + " is revoked")));
  EXPECT_FALSE(Stored(id).has_rate_limit());
}

TEST_F(GrantRateLimitTest, EveryGrantWriteRecordsTheLimitItLeaves) {
  recorder_.recorded.clear();
  recorder_.grant_rate_limits.clear();
  absl::StatusOr<v1::Grant> requested = Request(Limit(10, 20));
  ASSERT_THAT(requested, IsOk());
  ASSERT_THAT(Approve(requested->id(), Limit(2, 4)), IsOk());
  ASSERT_THAT(SetRate(requested->id(), std::nullopt), IsOk());
  ASSERT_EQ(recorder_.grant_rate_limits.size(), 3u);
  ASSERT_EQ(recorder_.recorded.size(), 3u);
  ASSERT_TRUE(recorder_.grant_rate_limits[0].has_value());
  EXPECT_EQ(recorder_.grant_rate_limits[0]->requests_per_second(), 10);
  EXPECT_EQ(recorder_.grant_rate_limits[0]->burst(), 20u);
  ASSERT_TRUE(recorder_.grant_rate_limits[1].has_value());
  EXPECT_EQ(recorder_.grant_rate_limits[1]->requests_per_second(), 2);
  EXPECT_FALSE(recorder_.grant_rate_limits[2].has_value());
  EXPECT_EQ(recorder_.recorded[2].grant_id(), requested->id());
  EXPECT_EQ(recorder_.recorded[2].grant_state_before(), v1::GRANT_STATE_APPROVED);
  EXPECT_EQ(recorder_.recorded[2].grant_state_after(), v1::GRANT_STATE_APPROVED);

  // A change whose record fails does not apply.
  recorder_.refuse = absl::UnavailableError("audit log down");
  EXPECT_THAT(SetRate(requested->id(), Limit(1, 1)),
              StatusIs(absl::StatusCode::kUnavailable, "audit log down"));
  EXPECT_FALSE(Stored(requested->id()).has_rate_limit());
}

TEST_F(GrantRateLimitTest, LimitsSurviveAReopenAndShowInListings) {
  std::string limited = Grant({"birth_id"}, {"statistics"});
  ASSERT_THAT(SetRate(limited, Limit(0.5, 3)), IsOk());
  std::string unlimited = Grant({"birth_id"}, {"statistics"});
  Reopen();
  EXPECT_THAT(Stored(limited), HasLimit(0.5, 3));
  EXPECT_FALSE(Stored(unlimited).has_rate_limit());
  v1::GetGrantRequest get;
  get.set_grant_id(limited);
  absl::StatusOr<v1::Grant> seen = admin_->GetGrant(kConsumer, get);
  ASSERT_THAT(seen, IsOk());
  EXPECT_THAT(*seen, HasLimit(0.5, 3));
  absl::StatusOr<v1::ListGrantsResponse> listed = admin_->ListGrants(kOwner, {});
  ASSERT_THAT(listed, IsOk());
  int with_limit = 0;
  for (const v1::Grant& grant : listed->grants()) with_limit += grant.has_rate_limit();
  EXPECT_EQ(with_limit, 1);
}

TEST_F(GrantRateLimitTest, AGrantStoredWithoutALimitHasNone) {
  // As a grant written before rate limits existed: no rate_limit field at all.
  v1::Grant old;
  old.set_id("g-00000000000000aa");
  old.set_consumer(kConsumer);
  old.set_dataset(kDataset);
  old.add_fields("birth_id");
  old.add_purposes("statistics");
  old.set_state(v1::GRANT_STATE_APPROVED);
  *old.mutable_expires_at() = ToProtoTime(kStart + absl::Hours(24));
  ASSERT_THAT(registry_->PutGrant(old), IsOk());
  Reopen();
  EXPECT_FALSE(Stored(old.id()).has_rate_limit());
  ASSERT_THAT(SetRate(old.id(), Limit(3, 0)), IsOk());
  EXPECT_THAT(Stored(old.id()), HasLimit(3, 3));
}

}  // namespace
}  // namespace ndx::registry::testing
