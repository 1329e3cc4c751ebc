#include "audit/checkpointer.h"

#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "common/files.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx::audit {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

class CheckpointerTest : public ::testing::Test {
 protected:
  std::unique_ptr<AuditLog> OpenLog(const std::string& name) {
    AuditLogOptions options;
    options.dir = dir_.Join(name);
    options.pseudonym_key = std::string(32, 'k');
    auto log = AuditLog::Open(options);
    EXPECT_THAT(log, IsOk());
    return *std::move(log);
  }

  static void AppendSome(AuditLog& log, int count, const std::string& caller) {
    for (int i = 0; i < count; ++i) {
      AuditRecord record;
      record.time = absl::FromUnixSeconds(1700000000 + i);
      record.request_id = absl::StrCat(caller, "-", i);
      record.caller = caller;
      record.operation = "Get";
      absl::Notification done;
      absl::Status result;
      log.Append(std::move(record), [&](absl::Status status) {
        result = status;
        done.Notify();
      });
      done.WaitForNotification();
      ASSERT_THAT(result, IsOk());
    }
  }

  CheckpointerOptions Options(absl::Duration interval = absl::ZeroDuration()) {
    CheckpointerOptions options;
    options.origin = "ndx.test/audit";
    options.key_name = "ndx.test/audit";
    options.state_file = dir_.Join("checkpoint.note");
    options.interval = interval;
    return options;
  }

  void SetUp() override {
    ASSERT_THAT(crypto::SigningKey::Generate()->SavePem(dir_.Join("checkpoint.key")), IsOk());
  }

  // The log's signing key (not copyable: each checkpointer gets its own load of it).
  crypto::SigningKey Key() { return *crypto::SigningKey::LoadPem(dir_.Join("checkpoint.key")); }

  ndx::testing::TempDir dir_;
};

TEST_F(CheckpointerTest, SignsVerifiableCheckpointsAndKeepsTheLatest) {
  auto log = OpenLog("log");
  AppendSome(*log, 5, "moh/insurance");
  auto checkpointer = Checkpointer::Start(log.get(), Key(), Options());
  ASSERT_THAT(checkpointer, IsOk());
  EXPECT_THAT((*checkpointer)->Latest(), StatusIs(absl::StatusCode::kNotFound));
  auto signed_now = (*checkpointer)->SignNow();
  ASSERT_THAT(signed_now, IsOk());
  auto verifier = ParseVerifierKey((*checkpointer)->VerifierKeyText());
  ASSERT_THAT(verifier, IsOk());
  auto checkpoint = VerifyCheckpoint(signed_now->note, *verifier);
  ASSERT_THAT(checkpoint, IsOk());
  EXPECT_EQ(checkpoint->size, 5u);
  EXPECT_EQ(checkpoint->root, *log->Root(5));
  EXPECT_EQ(*ReadFile(dir_.Join("checkpoint.note")), signed_now->note);
  EXPECT_EQ((*checkpointer)->Latest()->note, signed_now->note);
}

TEST_F(CheckpointerTest, RestartsFromTheLastSignedCheckpoint) {
  auto log = OpenLog("log");
  AppendSome(*log, 3, "moh/insurance");
  {
    auto checkpointer = Checkpointer::Start(log.get(), Key(), Options());
    ASSERT_THAT((*checkpointer)->SignNow(), IsOk());
  }
  AppendSome(*log, 2, "moh/insurance");
  auto checkpointer = Checkpointer::Start(log.get(), Key(), Options());
  ASSERT_THAT(checkpointer, IsOk());
  EXPECT_EQ((*checkpointer)->Latest()->checkpoint.size, 3u);
  EXPECT_EQ((*checkpointer)->SignNow()->checkpoint.size, 5u);
}

TEST_F(CheckpointerTest, RefusesALogThatNoLongerMatchesWhatItSigned) {
  auto log = OpenLog("log");
  AppendSome(*log, 4, "moh/insurance");
  {
    auto checkpointer = Checkpointer::Start(log.get(), Key(), Options());
    ASSERT_THAT((*checkpointer)->SignNow(), IsOk());
  }
  // Another history of the same length, and a shorter one, under the same key and state.
  auto rewritten = OpenLog("rewritten");
  AppendSome(*rewritten, 4, "moj/civil-status");
  EXPECT_THAT(Checkpointer::Start(rewritten.get(), Key(), Options()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("altered")));
  auto shorter = OpenLog("shorter");
  AppendSome(*shorter, 2, "moh/insurance");
  EXPECT_THAT(Checkpointer::Start(shorter.get(), Key(), Options()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("removed")));
}

TEST_F(CheckpointerTest, RefusesAStateOfAnotherOriginOrKey) {
  auto log = OpenLog("log");
  AppendSome(*log, 1, "moh/insurance");
  {
    auto checkpointer = Checkpointer::Start(log.get(), Key(), Options());
    ASSERT_THAT((*checkpointer)->SignNow(), IsOk());
  }
  CheckpointerOptions other_origin = Options();
  other_origin.origin = "ndx.test/other";
  EXPECT_THAT(Checkpointer::Start(log.get(), Key(), other_origin),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("ndx.test/other")));
  EXPECT_FALSE(Checkpointer::Start(log.get(), *crypto::SigningKey::Generate(), Options()).ok());
}

TEST_F(CheckpointerTest, SignsAtTheIntervalWhileTheLogGrows) {
  auto log = OpenLog("log");
  auto checkpointer = Checkpointer::Start(log.get(), Key(), Options(absl::Milliseconds(20)));
  ASSERT_THAT(checkpointer, IsOk());
  AppendSome(*log, 3, "moh/insurance");
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (absl::Now() < give_up) {
    auto latest = (*checkpointer)->Latest();
    if (latest.ok() && latest->checkpoint.size == 3) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_THAT((*checkpointer)->Latest(), IsOk());
  EXPECT_EQ((*checkpointer)->Latest()->checkpoint.size, 3u);
}

}  // namespace
}  // namespace ndx::audit
