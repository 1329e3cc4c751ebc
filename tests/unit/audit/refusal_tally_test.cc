#include "audit/refusal_tally.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "testing/fake_clock.h"
#include "testing/status_matchers.h"

namespace ndx::audit {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kStart = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

// Keeps what it is given; thread-safe, since the tally appends from its own thread.
class KeepingSink : public AuditSink {
 public:
  void Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override {
    {
      absl::MutexLock lock(&mutex_);
      records_.push_back(std::move(record));
    }
    std::move(done)(absl::OkStatus());
  }
  std::vector<AuditRecord> records() const {
    absl::MutexLock lock(&mutex_);
    return records_;
  }

 private:
  mutable absl::Mutex mutex_;
  std::vector<AuditRecord> records_ ABSL_GUARDED_BY(mutex_);
};

// A refused Get of moh/insurance under grant g-1, as ReadCall records it.
AuditRecord Refusal(absl::Time time, std::vector<std::string> subjects = {},
                    const std::string& reason = "grant g-1 is over its rate limit") {
  AuditRecord record;
  record.time = time;
  record.request_id = absl::StrCat("req-", absl::ToUnixMillis(time));
  record.caller = "moh/insurance";
  record.dataset = "mops/residents";
  record.operation = "Get";
  record.purpose = "enrolment";
  record.grant_id = "g-1";
  record.code = absl::StatusCode::kResourceExhausted;
  record.reason = "grant g-1 is over its rate limit; retry in 120 ms";
  record.overload_reason = reason;
  record.subjects = std::move(subjects);
  return record;
}

class RefusalTallyTest : public ::testing::Test {
 protected:
  RefusalTallyTest() {
    auto sink = std::make_unique<KeepingSink>();
    sink_ = sink.get();
    tally_ = std::make_unique<RefusalTally>(
        std::move(sink), RefusalTallyOptions{.max_subjects = 3,
                                             .max_open_entries = 4,
                                             .flush_interval = absl::ZeroDuration(),
                                             .clock = &clock_});
  }

  // Appends through the tally as AuditedCall does; whether `done` ran before Append returned.
  bool AnsweredAtOnce(AuditRecord record) {
    bool answered = false;
    tally_->Append(std::move(record), [&](absl::Status status) {
      EXPECT_THAT(status, testing::IsOk());
      answered = true;
    });
    return answered;
  }

  testing::FakeClock clock_{kStart};
  KeepingSink* sink_ = nullptr;
  std::unique_ptr<RefusalTally> tally_;
};

TEST_F(RefusalTallyTest, RefusalsOfOneSecondBecomeOneEntryWithTheirCount) {
  for (int i = 0; i < 250; ++i) {
    ASSERT_TRUE(AnsweredAtOnce(Refusal(kStart + absl::Milliseconds(4 * i))));
  }
  // Nothing is appended while the second lasts.
  clock_.Advance(absl::Milliseconds(999));
  tally_->FlushClosed();
  EXPECT_THAT(sink_->records(), IsEmpty());
  EXPECT_EQ(tally_->open_entries(), 1u);

  clock_.Advance(absl::Milliseconds(1));
  tally_->FlushClosed();
  std::vector<AuditRecord> appended = sink_->records();
  ASSERT_THAT(appended, SizeIs(1));
  const AuditRecord& entry = appended[0];
  EXPECT_EQ(entry.refused_calls, 250u);
  EXPECT_EQ(entry.time, kStart);
  EXPECT_EQ(entry.refused_until, kStart + absl::Seconds(1));
  EXPECT_EQ(entry.request_id, "req-1767225600000");  // the first call's
  EXPECT_EQ(entry.caller, "moh/insurance");
  EXPECT_EQ(entry.dataset, "mops/residents");
  EXPECT_EQ(entry.grant_id, "g-1");
  EXPECT_EQ(entry.operation, "Get");
  EXPECT_EQ(entry.purpose, "enrolment");
  EXPECT_FALSE(entry.allowed);
  EXPECT_EQ(entry.code, absl::StatusCode::kResourceExhausted);
  // The reason that does not change from call to call, not the message with its retry delay.
  EXPECT_EQ(entry.reason, "grant g-1 is over its rate limit");
  EXPECT_EQ(tally_->open_entries(), 0u);
}

TEST_F(RefusalTallyTest, EachSecondAndEachKeyHasItsOwnEntry) {
  ASSERT_TRUE(AnsweredAtOnce(Refusal(kStart)));
  ASSERT_TRUE(AnsweredAtOnce(Refusal(kStart + absl::Milliseconds(500))));
  ASSERT_TRUE(AnsweredAtOnce(Refusal(kStart + absl::Milliseconds(1500))));
  AuditRecord other_grant = Refusal(kStart + absl::Milliseconds(100));
  other_grant.grant_id = "g-2";
  ASSERT_TRUE(AnsweredAtOnce(std::move(other_grant)));
  AuditRecord query = Refusal(kStart + absl::Milliseconds(200));
  query.operation = "Query";
  ASSERT_TRUE(AnsweredAtOnce(std::move(query)));

  clock_.Set(kStart + absl::Seconds(1));
  tally_->FlushClosed();
  std::vector<AuditRecord> first = sink_->records();
  ASSERT_THAT(first, SizeIs(3));
  std::map<std::string, uint64_t> calls;
  for (const AuditRecord& entry : first)
    calls[entry.grant_id + "/" + entry.operation] = entry.refused_calls;
  EXPECT_THAT(calls, ElementsAre(std::pair<const std::string, uint64_t>("g-1/Get", 2),
                                 std::pair<const std::string, uint64_t>("g-1/Query", 1),
                                 std::pair<const std::string, uint64_t>("g-2/Get", 1)));

  clock_.Set(kStart + absl::Seconds(2));
  tally_->FlushClosed();
  std::vector<AuditRecord> all = sink_->records();
  ASSERT_THAT(all, SizeIs(4));
  EXPECT_EQ(all[3].time, kStart + absl::Seconds(1));
  EXPECT_EQ(all[3].refused_calls, 1u);
}

TEST_F(RefusalTallyTest, SubjectsAreKeptDistinctUpToTheCapAndTheRestCounted) {
  ASSERT_TRUE(AnsweredAtOnce(Refusal(kStart, {"001"})));
  ASSERT_TRUE(AnsweredAtOnce(Refusal(kStart, {"002"})));
  ASSERT_TRUE(AnsweredAtOnce(Refusal(kStart, {"001"})));
  ASSERT_TRUE(AnsweredAtOnce(Refusal(kStart, {"003"})));
  ASSERT_TRUE(AnsweredAtOnce(Refusal(kStart, {"004"})));
  ASSERT_TRUE(AnsweredAtOnce(Refusal(kStart, {"005"})));
  ASSERT_TRUE(AnsweredAtOnce(Refusal(kStart, {"002"})));
  tally_->FlushAll();
  std::vector<AuditRecord> appended = sink_->records();
  ASSERT_THAT(appended, SizeIs(1));
  EXPECT_THAT(appended[0].subjects, ElementsAre("001", "002", "003"));
  EXPECT_EQ(appended[0].subjects_not_recorded, 2u);
  EXPECT_EQ(appended[0].refused_calls, 7u);
}

TEST_F(RefusalTallyTest, OtherRecordsGoThroughUnchanged) {
  AuditRecord allowed;
  allowed.request_id = "allowed";
  allowed.allowed = true;
  AuditRecord denied = Refusal(kStart);
  denied.request_id = "denied";
  denied.overload_reason.clear();
  denied.code = absl::StatusCode::kPermissionDenied;
  ASSERT_TRUE(AnsweredAtOnce(allowed));
  ASSERT_TRUE(AnsweredAtOnce(denied));
  std::vector<AuditRecord> appended = sink_->records();
  ASSERT_THAT(appended, SizeIs(2));
  EXPECT_EQ(appended[0].request_id, "allowed");
  EXPECT_EQ(appended[1].request_id, "denied");
  EXPECT_EQ(appended[1].refused_calls, 0u);
  EXPECT_EQ(tally_->open_entries(), 0u);
}

TEST_F(RefusalTallyTest, AFullTallyCountsNewKeysPerCallerAndClosesEveryWindow) {
  // Four entries fill it (max_open_entries 4).
  for (int i = 0; i < 4; ++i) {
    AuditRecord refusal = Refusal(kStart);
    refusal.dataset = absl::StrCat("mops/set-", i);
    ASSERT_TRUE(AnsweredAtOnce(std::move(refusal)));
  }
  for (int i = 4; i < 10; ++i) {
    AuditRecord refusal = Refusal(kStart, {absl::StrCat("s-", i)});
    refusal.dataset = absl::StrCat("mops/set-", i);
    ASSERT_TRUE(AnsweredAtOnce(std::move(refusal)));
  }
  EXPECT_EQ(tally_->open_entries(), 5u);
  // The window has not ended, but the tally was full: the next flush empties it.
  clock_.Advance(absl::Milliseconds(300));
  tally_->FlushClosed();
  EXPECT_EQ(tally_->open_entries(), 0u);
  std::vector<AuditRecord> appended = sink_->records();
  ASSERT_THAT(appended, SizeIs(5));
  uint64_t total = 0;
  const AuditRecord* overflow = nullptr;
  for (const AuditRecord& entry : appended) {
    total += entry.refused_calls;
    if (entry.dataset.empty()) overflow = &entry;
    // Closed early: it ends when it was closed.
    EXPECT_EQ(entry.refused_until, kStart + absl::Milliseconds(300));
  }
  EXPECT_EQ(total, 10u);
  ASSERT_NE(overflow, nullptr);
  EXPECT_EQ(overflow->caller, "moh/insurance");
  EXPECT_EQ(overflow->refused_calls, 6u);
  EXPECT_TRUE(overflow->grant_id.empty());
  EXPECT_THAT(overflow->subjects, ElementsAre("s-4", "s-5", "s-6"));
  EXPECT_EQ(overflow->subjects_not_recorded, 3u);
}

TEST_F(RefusalTallyTest, DestroyingTheTallyAppendsWhatItStillCounts) {
  auto keeping = std::make_shared<std::vector<AuditRecord>>();
  // The sink lives in the tally: read it back through a sink that outlives it.
  class SharedSink : public AuditSink {
   public:
    explicit SharedSink(std::shared_ptr<std::vector<AuditRecord>> out) : out_(std::move(out)) {}
    void Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override {
      out_->push_back(std::move(record));
      std::move(done)(absl::OkStatus());
    }

   private:
    std::shared_ptr<std::vector<AuditRecord>> out_;
  };
  {
    RefusalTally tally(
        std::make_unique<SharedSink>(keeping),
        RefusalTallyOptions{.flush_interval = absl::ZeroDuration(), .clock = &clock_});
    tally.Tally(Refusal(kStart + absl::Milliseconds(10)));
    tally.Tally(Refusal(kStart + absl::Milliseconds(20)));
    clock_.Advance(absl::Milliseconds(50));
  }
  ASSERT_THAT(*keeping, SizeIs(1));
  EXPECT_EQ((*keeping)[0].refused_calls, 2u);
  EXPECT_EQ((*keeping)[0].refused_until, kStart + absl::Milliseconds(50));
}

TEST(RefusalTallyThreadTest, ItsThreadAppendsClosedWindowsAndConcurrentCallsAllCount) {
  auto sink = std::make_unique<KeepingSink>();
  KeepingSink* kept = sink.get();
  // The real clock, and a thread flushing every 10 ms.
  RefusalTally tally(std::move(sink),
                     RefusalTallyOptions{.window = absl::Milliseconds(50),
                                         .flush_interval = absl::Milliseconds(10)});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&tally, t] {
      for (int i = 0; i < 500; ++i) {
        AuditRecord refusal = Refusal(absl::UnixEpoch(), {absl::StrCat("s-", t)});
        tally.Append(std::move(refusal), [](absl::Status) {});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  // Every window ends within 50 ms; the thread appends it within 10 ms more.
  uint64_t total = 0;
  for (int wait = 0; wait < 500 && total < 2000; ++wait) {
    absl::SleepFor(absl::Milliseconds(10));
    total = 0;
    for (const AuditRecord& entry : kept->records()) total += entry.refused_calls;
  }
  EXPECT_EQ(total, 2000u);
  EXPECT_EQ(tally.open_entries(), 0u);
}

}  // namespace
}  // namespace ndx::audit
