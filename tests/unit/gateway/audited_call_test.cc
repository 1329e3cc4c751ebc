#include "gateway/audited_call.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "gateway/overload_refusal.h"
#include "testing/fake_clock.h"
#include "testing/status_matchers.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::FakeClock;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;

// Keeps what it is given, or fails every append while `failing` is set.
class RecordingSink final : public audit::AuditSink {
 public:
  void Append(audit::AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override {
    absl::Status result;
    {
      absl::MutexLock lock(&mu_);
      ++attempts_;
      if (failing_) {
        result = absl::ResourceExhaustedError("disk full");
      } else {
        records_.push_back(std::move(record));
      }
    }
    std::move(done)(std::move(result));
  }

  void set_failing(bool failing) {
    absl::MutexLock lock(&mu_);
    failing_ = failing;
  }
  int attempts() const {
    absl::MutexLock lock(&mu_);
    return attempts_;
  }
  std::vector<audit::AuditRecord> records() const {
    absl::MutexLock lock(&mu_);
    return records_;
  }

 private:
  mutable absl::Mutex mu_;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<audit::AuditRecord> records_ ABSL_GUARDED_BY(mu_);
};

class AuditedCallTest : public ::testing::Test {
 protected:
  AuditedCall NewCall(std::string operation) {
    return AuditedCall(sink_, clock_, std::move(operation), /*registry_revision=*/7);
  }

  RecordingSink sink_;
  FakeClock clock_{absl::FromUnixSeconds(1767225600)};
};

TEST_F(AuditedCallTest, AnAllowedCallIsRecordedOnceAndAnswered) {
  AuditedCall call = NewCall("Get");
  call.record().caller = "moh/insurance";
  call.record().dataset = "mops/residents";
  clock_.Advance(absl::Milliseconds(3));

  EXPECT_THAT(call.FinishAndWait(absl::OkStatus()), IsOk());

  std::vector<audit::AuditRecord> records = sink_.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].allowed);
  EXPECT_EQ(records[0].code, absl::StatusCode::kOk);
  EXPECT_EQ(records[0].caller, "moh/insurance");
  EXPECT_EQ(records[0].operation, "Get");
  EXPECT_EQ(records[0].registry_revision, 7u);
  EXPECT_EQ(records[0].latency, absl::Milliseconds(3));
  EXPECT_FALSE(records[0].request_id.empty());
}

TEST_F(AuditedCallTest, AnAllowedCallWhoseRecordFailsIsAnsweredUnavailable) {
  sink_.set_failing(true);
  AuditedCall call = NewCall("Get");

  EXPECT_THAT(call.FinishAndWait(absl::OkStatus()),
              StatusIs(absl::StatusCode::kUnavailable,
                       "Get could not be audited, so it is not answered; try again"));
  EXPECT_EQ(sink_.attempts(), 1);
}

TEST_F(AuditedCallTest, ARefusalRecordsItsReasonAndStaysTheSameRefusal) {
  AuditedCall call = NewCall("Query");
  EXPECT_THAT(call.FinishAndWait(absl::PermissionDeniedError("no grant")),
              StatusIs(absl::StatusCode::kPermissionDenied, "no grant"));
  std::vector<audit::AuditRecord> records = sink_.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_FALSE(records[0].allowed);
  EXPECT_EQ(records[0].code, absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(records[0].reason, "no grant");

  // An unrecorded refusal tells the caller no more than a recorded one.
  sink_.set_failing(true);
  AuditedCall unrecorded = NewCall("Query");
  EXPECT_THAT(unrecorded.FinishAndWait(absl::PermissionDeniedError("no grant")),
              StatusIs(absl::StatusCode::kPermissionDenied, "no grant"));
}

// Every service's refusals for overload (Exchange reads, audit exports, subscriptions) reach
// the sink marked with the limit, for RefusalTally to count them; other refusals are not marked.
TEST_F(AuditedCallTest, AnOverloadRefusalIsMarkedWithItsLimitForTheTally) {
  AuditedCall call = NewCall("Events.Subscribe");
  absl::Status refusal =
      OverloadRefusal(absl::StatusCode::kResourceExhausted, OverloadReason::kNodeStreams,
                      "node x has 16 streams open");
  EXPECT_THAT(call.FinishAndWait(refusal), StatusIs(absl::StatusCode::kResourceExhausted));
  AuditedCall other = NewCall("Events.Subscribe");
  EXPECT_THAT(other.FinishAndWait(absl::ResourceExhaustedError("message too large")),
              StatusIs(absl::StatusCode::kResourceExhausted));

  std::vector<audit::AuditRecord> records = sink_.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].overload_reason, "refused for overload (node_streams)");
  EXPECT_EQ(records[1].overload_reason, "");
}

TEST_F(AuditedCallTest, FinishAnswersThroughItsCallbackExactlyOnce) {
  AuditedCall call = NewCall("Get");
  int answers = 0;
  absl::Status answered = absl::UnknownError("not answered");
  call.Finish(absl::OkStatus(), [&](absl::Status status) {
    ++answers;
    answered = std::move(status);
  });
  EXPECT_EQ(answers, 1);
  EXPECT_THAT(answered, IsOk());
}

TEST_F(AuditedCallTest, AChangeIsRecordedBeforeItAppliesAndNotAgainWhenItSucceeds) {
  AuditedCall call = NewCall("Registry.ApproveGrant");
  v1::RegistryChange change;
  change.set_grant_id("g-1");
  change.set_dataset_id("mops/residents");

  ASSERT_THAT(call.Record(change), IsOk());
  std::vector<audit::AuditRecord> before = sink_.records();
  ASSERT_EQ(before.size(), 1u);
  EXPECT_TRUE(before[0].allowed);
  EXPECT_EQ(before[0].grant_id, "g-1");
  EXPECT_EQ(before[0].dataset, "mops/residents");
  ASSERT_TRUE(before[0].change.has_value());
  EXPECT_EQ(before[0].change->grant_id(), "g-1");

  EXPECT_THAT(call.FinishAndWait(absl::OkStatus()), IsOk());
  EXPECT_EQ(sink_.records().size(), 1u);
}

TEST_F(AuditedCallTest, AChangeWhoseRecordFailsMustNotApply) {
  sink_.set_failing(true);
  AuditedCall call = NewCall("Registry.RegisterNode");
  EXPECT_THAT(call.RecordBeforeApply(),
              StatusIs(absl::StatusCode::kUnavailable,
                       "Registry.RegisterNode could not be audited, so nothing was changed; "
                       "try again"));
  // The handler answers with that status; Finish then records the refusal if it can.
  sink_.set_failing(false);
  EXPECT_THAT(call.FinishAndWait(absl::UnavailableError("not audited")),
              StatusIs(absl::StatusCode::kUnavailable));
  std::vector<audit::AuditRecord> records = sink_.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_FALSE(records[0].allowed);
}

TEST_F(AuditedCallTest, AChangeThatFailsAfterItsRecordIsRecordedAgainUnderTheSameRequestId) {
  AuditedCall call = NewCall("Registry.SetRoles");
  ASSERT_THAT(call.RecordBeforeApply(), IsOk());
  clock_.Advance(absl::Milliseconds(5));

  EXPECT_THAT(call.FinishAndWait(absl::AbortedError("registry revision moved")),
              StatusIs(absl::StatusCode::kAborted, "registry revision moved"));

  std::vector<audit::AuditRecord> records = sink_.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(records[0].allowed);
  EXPECT_FALSE(records[1].allowed);
  EXPECT_EQ(records[1].request_id, records[0].request_id);
  EXPECT_EQ(records[1].code, absl::StatusCode::kAborted);
  EXPECT_EQ(records[1].reason, "recorded before it applied, then failed: registry revision moved");
  EXPECT_EQ(records[1].latency, absl::Milliseconds(5));
}

TEST_F(AuditedCallTest, AFailureRecordedThroughTheRecorderIsNotRecordedTwice) {
  AuditedCall call = NewCall("Registry.ApproveGrant");
  v1::RegistryChange change;
  change.set_grant_id("g-2");
  ASSERT_THAT(call.Record(change), IsOk());
  call.RecordFailure(change, absl::InternalError("write failed"));

  EXPECT_THAT(call.FinishAndWait(absl::InternalError("write failed")),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(sink_.records().size(), 2u);
}

}  // namespace
}  // namespace ndx::gateway
