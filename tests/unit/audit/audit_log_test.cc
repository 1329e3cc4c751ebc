#include "audit/audit_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "audit/merkle.h"
#include "audit/proof_verifier.h"
#include "crypto/hash.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx::audit {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::ndx::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Durability = AuditLogOptions::Durability;

const std::string kKey(32, 'k');
const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

class FixedClock : public Clock {
 public:
  explicit FixedClock(absl::Time now) : now_(now) {}
  absl::Time Now() const override { return now_; }

 private:
  absl::Time now_;
};

AuditLogOptions Options(const TempDir& dir, Durability durability = Durability::kPowerLoss) {
  AuditLogOptions options;
  options.dir = dir.Join("audit");
  options.durability = durability;
  options.pseudonym_key = kKey;
  return options;
}

AuditRecord Record(std::string caller, std::string dataset, bool allowed, absl::Time time,
                   std::vector<std::string> subjects = {}) {
  AuditRecord record;
  record.time = time;
  record.request_id = absl::StrCat("req-", caller, "-", absl::ToUnixSeconds(time));
  record.caller = std::move(caller);
  record.dataset = std::move(dataset);
  record.operation = "Get";
  record.purpose = "benefit-eligibility";
  record.allowed = allowed;
  if (allowed) {
    record.fields = {"name", "birth_date"};
    record.grant_id = "g-1";
  } else {
    record.code = absl::StatusCode::kPermissionDenied;
    record.reason = "no grant";
  }
  record.registry_revision = 7;
  record.latency = absl::Microseconds(1234);
  record.response_bytes = 99;
  record.record_count = static_cast<uint32_t>(subjects.size());
  record.subjects = std::move(subjects);
  return record;
}

absl::Status AppendAndWait(AuditLog& log, AuditRecord record) {
  absl::Notification notification;
  absl::Status result;
  log.Append(std::move(record), [&](absl::Status status) {
    result = std::move(status);
    notification.Notify();
  });
  notification.WaitForNotification();
  return result;
}

std::string ReadAllFiles(const std::string& dir) {
  std::string bytes;
  for (const auto& file : std::filesystem::recursive_directory_iterator(dir)) {
    if (!file.is_regular_file()) continue;
    std::ifstream in(file.path(), std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return bytes;
}

std::vector<uint64_t> Sequences(const AuditQueryResult& result) {
  std::vector<uint64_t> sequences;
  for (const LoggedEntry& logged : result.entries) sequences.push_back(logged.entry.sequence());
  return sequences;
}

// The root recomputed from the entries' stored bytes by an independent in-memory tree.
Hash RecomputedRoot(const AuditLog& log) {
  InMemoryHashStore store;
  absl::StatusOr<MerkleTree> tree = MerkleTree::Open(&store, 0);
  EXPECT_THAT(tree.status(), IsOk());
  std::vector<std::string> bytes;
  for (uint64_t i = 0; i < log.size(); ++i) {
    absl::StatusOr<LoggedEntry> logged = log.Entry(i);
    EXPECT_THAT(logged.status(), IsOk());
    bytes.push_back(logged->bytes);
  }
  EXPECT_THAT(tree->Append(bytes), IsOk());
  return *tree->Root(tree->size());
}

TEST(AuditLogTest, OpenRejectsBadOptions) {
  TempDir dir;
  AuditLogOptions options = Options(dir);
  options.pseudonym_key = std::string(31, 'k');
  EXPECT_THAT(AuditLog::Open(options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least 32")));
  options = Options(dir);
  options.dir = "";
  EXPECT_THAT(AuditLog::Open(options).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AuditLogTest, SecondOpenOfTheSameDirectoryIsUnavailable) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(Options(dir));
  ASSERT_THAT(log.status(), IsOk());
  EXPECT_THAT(AuditLog::Open(Options(dir)).status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(AuditLogTest, EntryRoundTripsWithPseudonymsAndNoCleartextSubject) {
  TempDir dir;
  const std::string subject = "citizen-079123456789";
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(Options(dir));
  ASSERT_THAT(log.status(), IsOk());
  ASSERT_THAT(AppendAndWait(**log, Record("mops.population", "residents", true, kT0, {subject})),
              IsOk());
  ASSERT_EQ((*log)->size(), 1u);

  absl::StatusOr<LoggedEntry> logged = (*log)->Entry(0);
  ASSERT_THAT(logged.status(), IsOk());
  const v1::AuditEntry& entry = logged->entry;
  EXPECT_EQ(entry.sequence(), 0u);
  EXPECT_EQ(entry.time().seconds(), 1700000000);
  EXPECT_EQ(entry.request_id(), "req-mops.population-1700000000");
  EXPECT_EQ(entry.caller(), "mops.population");
  EXPECT_EQ(entry.dataset(), "residents");
  EXPECT_EQ(entry.operation(), "Get");
  EXPECT_EQ(entry.purpose(), "benefit-eligibility");
  EXPECT_THAT(entry.fields(), ElementsAre("name", "birth_date"));
  EXPECT_EQ(entry.decision(), v1::AuditEntry::DECISION_ALLOW);
  EXPECT_EQ(entry.code(), "OK");
  EXPECT_EQ(entry.grant_id(), "g-1");
  EXPECT_EQ(entry.registry_revision(), 7u);
  EXPECT_EQ(entry.latency_us(), 1234u);
  EXPECT_EQ(entry.response_bytes(), 99u);
  EXPECT_EQ(entry.record_count(), 1u);
  const std::string pseudonym = crypto::ToHex(crypto::HmacSha256(kKey, subject));
  EXPECT_THAT(entry.subject_pseudonyms(), ElementsAre(pseudonym));
  EXPECT_EQ((*log)->Pseudonym(subject), pseudonym);
  EXPECT_EQ(logged->bytes, entry.SerializeAsString());
  EXPECT_THAT((*log)->Entry(1).status(), StatusIs(absl::StatusCode::kNotFound));

  // In the WAL: the caller is there in the clear (the search works), the subject is not.
  std::string files = ReadAllFiles(dir.Join("audit"));
  EXPECT_NE(files.find("mops.population"), std::string::npos);
  EXPECT_NE(files.find(pseudonym), std::string::npos);
  EXPECT_EQ(files.find(subject), std::string::npos);
  // And in the SST files once flushed.
  ASSERT_THAT((*log)->FlushForTest(), IsOk());
  log->reset();
  files = ReadAllFiles(dir.Join("audit"));
  EXPECT_EQ(files.find(subject), std::string::npos);
  EXPECT_EQ(files.find("079123456789"), std::string::npos);
}

TEST(AuditLogTest, DefaultTimeIsStampedByTheClockAndInfiniteTimeIsRefused) {
  TempDir dir;
  FixedClock clock(kT0 + absl::Nanoseconds(5));
  AuditLogOptions options = Options(dir);
  options.clock = &clock;
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(options);
  ASSERT_THAT(log.status(), IsOk());
  ASSERT_THAT(AppendAndWait(**log, Record("a", "d", true, absl::UnixEpoch())), IsOk());
  EXPECT_EQ((*log)->Entry(0)->entry.time().seconds(), 1700000000);
  EXPECT_EQ((*log)->Entry(0)->entry.time().nanos(), 5);
  EXPECT_THAT(AppendAndWait(**log, Record("a", "d", true, absl::InfiniteFuture())),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("time")));
  EXPECT_EQ((*log)->size(), 1u);
}

class DurabilityTest : public ::testing::TestWithParam<Durability> {};

TEST_P(DurabilityTest, ReopenKeepsSizeRootAndEntries) {
  TempDir dir;
  Hash root;
  std::vector<std::string> bytes;
  {
    absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(Options(dir, GetParam()));
    ASSERT_THAT(log.status(), IsOk());
    for (int i = 0; i < 5; ++i) {
      ASSERT_THAT(AppendAndWait(**log, Record("c", "d", i % 2 == 0, kT0 + absl::Seconds(i))),
                  IsOk());
    }
    AuditLog::Stats stats = (*log)->stats();
    EXPECT_EQ(stats.appends, 5u);
    EXPECT_EQ(stats.batches, 5u);  // each append waited for the previous one
    EXPECT_EQ(stats.syncs, GetParam() == Durability::kPowerLoss ? 5u : 0u);
    root = *(*log)->Root(5);
    for (uint64_t i = 0; i < 5; ++i) bytes.push_back((*log)->Entry(i)->bytes);
  }
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(Options(dir, GetParam()));
  ASSERT_THAT(log.status(), IsOk());
  EXPECT_EQ((*log)->size(), 5u);
  EXPECT_EQ(*(*log)->Root(5), root);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ((*log)->Entry(i)->bytes, bytes[i]);
  // Appends continue the same tree.
  ASSERT_THAT(AppendAndWait(**log, Record("c", "d", true, kT0 + absl::Seconds(9))), IsOk());
  EXPECT_EQ((*log)->Entry(5)->entry.sequence(), 5u);
  EXPECT_EQ(*(*log)->Root(5), root);
  EXPECT_EQ(*(*log)->Root(6), RecomputedRoot(**log));
}

INSTANTIATE_TEST_SUITE_P(BothModes, DurabilityTest,
                         ::testing::Values(Durability::kProcessCrash, Durability::kPowerLoss));

TEST(AuditLogTest, ConcurrentAppendsAreGroupCommitted) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(Options(dir));
  ASSERT_THAT(log.status(), IsOk());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::Status status = AppendAndWait(
            **log, Record(absl::StrCat("caller-", t), "d", true, kT0 + absl::Seconds(i),
                          {absl::StrCat("subject-", t, "-", i)}));
        (status.ok() ? ok : failed).fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(failed.load(), 0);
  ASSERT_EQ((*log)->size(), uint64_t{kThreads * kPerThread});
  AuditLog::Stats stats = (*log)->stats();
  EXPECT_EQ(stats.appends, uint64_t{kThreads * kPerThread});
  EXPECT_LT(stats.batches, stats.appends);
  EXPECT_EQ(stats.syncs, stats.batches);

  std::set<std::string> request_subjects;
  for (uint64_t i = 0; i < (*log)->size(); ++i) {
    absl::StatusOr<LoggedEntry> logged = (*log)->Entry(i);
    ASSERT_THAT(logged.status(), IsOk());
    EXPECT_EQ(logged->entry.sequence(), i);
    request_subjects.insert(logged->entry.subject_pseudonyms(0));
  }
  EXPECT_EQ(request_subjects.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*(*log)->Root((*log)->size()), RecomputedRoot(**log));
}

TEST(AuditLogTest, DestructorAnswersEveryQueuedAppend) {
  TempDir dir;
  constexpr int kCount = 300;
  std::atomic<int> ok{0};
  {
    absl::StatusOr<std::unique_ptr<AuditLog>> log =
        AuditLog::Open(Options(dir, Durability::kProcessCrash));
    ASSERT_THAT(log.status(), IsOk());
    for (int i = 0; i < kCount; ++i) {
      (*log)->Append(Record("c", "d", true, kT0), [&](absl::Status status) {
        if (status.ok()) ok.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(ok.load(), kCount);
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(Options(dir));
  ASSERT_THAT(log.status(), IsOk());
  EXPECT_EQ((*log)->size(), uint64_t{kCount});
}

TEST(AuditLogTest, ProofsVerifyWithTheIndependentVerifier) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(Options(dir));
  ASSERT_THAT(log.status(), IsOk());
  std::vector<Hash> roots = {EmptyRoot()};
  for (int i = 0; i < 13; ++i) {
    ASSERT_THAT(AppendAndWait(**log, Record("c", "d", true, kT0 + absl::Seconds(i))), IsOk());
    roots.push_back(*(*log)->Root((*log)->size()));
  }
  for (uint64_t size = 1; size <= 13; ++size) {
    EXPECT_EQ(*(*log)->Root(size), roots[size]);
    for (uint64_t i = 0; i < size; ++i) {
      absl::StatusOr<std::vector<Hash>> proof = (*log)->InclusionProof(i, size);
      ASSERT_THAT(proof.status(), IsOk());
      EXPECT_THAT(VerifyInclusion(LeafHash((*log)->Entry(i)->bytes), i, size, *proof, roots[size]),
                  IsOk())
          << i << " in " << size;
    }
    for (uint64_t old_size = 0; old_size <= size; ++old_size) {
      absl::StatusOr<std::vector<Hash>> proof = (*log)->ConsistencyProof(old_size, size);
      ASSERT_THAT(proof.status(), IsOk());
      EXPECT_THAT(VerifyConsistency(old_size, size, roots[old_size], roots[size], *proof), IsOk())
          << old_size << " to " << size;
    }
  }
  EXPECT_THAT((*log)->Root(14).status(), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT((*log)->InclusionProof(3, 14).status(), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT((*log)->InclusionProof(13, 13).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(AuditLogTest, VerifyEntryDetectsAnEntryRewrittenInTheDatabase) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(Options(dir));
  ASSERT_THAT(log.status(), IsOk());
  for (int i = 0; i < 4; ++i) {
    ASSERT_THAT(AppendAndWait(**log, Record("c", "d", false, kT0 + absl::Seconds(i))), IsOk());
  }
  for (uint64_t i = 0; i < 4; ++i) EXPECT_THAT((*log)->VerifyEntry(i), IsOk());

  // Turn the refusal of entry 2 into an allowed read: still a well-formed entry.
  v1::AuditEntry forged = (*log)->Entry(2)->entry;
  forged.set_decision(v1::AuditEntry::DECISION_ALLOW);
  ASSERT_THAT((*log)->OverwriteEntryBytesForTest(2, forged.SerializeAsString()), IsOk());
  EXPECT_THAT((*log)->VerifyEntry(2),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("audit entry 2")));
  EXPECT_THAT((*log)->VerifyEntry(1), IsOk());
  EXPECT_THAT((*log)->VerifyEntry(3), IsOk());
  EXPECT_THAT((*log)->VerifyEntry(4), StatusIs(absl::StatusCode::kNotFound));

  // Bytes that do not even parse are refused on read too.
  ASSERT_THAT((*log)->OverwriteEntryBytesForTest(1, "\xff\xff"), IsOk());
  EXPECT_THAT((*log)->Entry(1).status(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT((*log)->VerifyEntry(1), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AuditLogTest, TamperedLastEntryFailsOpen) {
  TempDir dir;
  {
    absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(Options(dir));
    ASSERT_THAT(log.status(), IsOk());
    ASSERT_THAT(AppendAndWait(**log, Record("c", "d", true, kT0)), IsOk());
    ASSERT_THAT(AppendAndWait(**log, Record("c", "d", true, kT0)), IsOk());
    v1::AuditEntry forged = (*log)->Entry(1)->entry;
    forged.set_caller("someone-else");
    ASSERT_THAT((*log)->OverwriteEntryBytesForTest(1, forged.SerializeAsString()), IsOk());
  }
  EXPECT_THAT(AuditLog::Open(Options(dir)).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("audit entry 1")));
}

TEST(AuditLogTest, FailedWriteFailsTheBatchAndRefusesLaterAppends) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(Options(dir));
  ASSERT_THAT(log.status(), IsOk());
  ASSERT_THAT(AppendAndWait(**log, Record("c", "d", true, kT0)), IsOk());
  Hash root = *(*log)->Root(1);
  (*log)->FailWritesForTest(absl::InternalError("disk full"));
  EXPECT_THAT(AppendAndWait(**log, Record("c", "d", true, kT0)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("disk full")));
  // The log stays where it was, and stays stopped even once writes would work again.
  EXPECT_EQ((*log)->size(), 1u);
  EXPECT_EQ(*(*log)->Root(1), root);
  (*log)->FailWritesForTest(absl::OkStatus());
  EXPECT_THAT(AppendAndWait(**log, Record("c", "d", true, kT0)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("refuses appends")));
  EXPECT_EQ((*log)->size(), 1u);
  log->reset();
  log = AuditLog::Open(Options(dir));
  ASSERT_THAT(log.status(), IsOk());
  EXPECT_EQ((*log)->size(), 1u);
  EXPECT_EQ(*(*log)->Root(1), root);
}

class AuditLogQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(Options(dir_));
    ASSERT_THAT(log.status(), IsOk());
    log_ = *std::move(log);
    // seq: caller, dataset, allowed, time (kT0 + seq minutes), subjects
    Add("police", "residents", true, {"alice"});           // 0
    Add("police", "vehicles", false, {});                  // 1
    Add("tax", "residents", true, {"alice", "bob"});       // 2
    Add("health", "residents", true, {"bob"});             // 3
    Add("police", "residents", false, {});                 // 4
    Add("tax", "income", true, {"alice"});                 // 5
    Add("police", "residents", true, {"carol", "alice"});  // 6
  }

  void Add(std::string caller, std::string dataset, bool allowed,
           std::vector<std::string> subjects) {
    absl::Time time = kT0 + absl::Minutes(log_->size());
    ASSERT_THAT(AppendAndWait(*log_, Record(std::move(caller), std::move(dataset), allowed, time,
                                            std::move(subjects))),
                IsOk());
  }

  std::vector<uint64_t> All(const AuditQuery& query, int page_size) {
    std::vector<uint64_t> sequences;
    std::string token;
    for (int pages = 0; pages < 20; ++pages) {
      absl::StatusOr<AuditQueryResult> result = log_->Query(query, token, page_size);
      EXPECT_THAT(result.status(), IsOk());
      if (!result.ok()) break;
      EXPECT_LE(result->entries.size(), static_cast<size_t>(page_size));
      for (uint64_t sequence : Sequences(*result)) sequences.push_back(sequence);
      token = result->next_page_token;
      if (token.empty()) break;
      EXPECT_EQ(result->entries.size(), static_cast<size_t>(page_size));
    }
    return sequences;
  }

  TempDir dir_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogQueryTest, ByEachIndexNewestFirst) {
  AuditQuery query;
  EXPECT_THAT(All(query, 100), ElementsAre(6, 5, 4, 3, 2, 1, 0));
  query = {};
  query.caller = "police";
  EXPECT_THAT(All(query, 100), ElementsAre(6, 4, 1, 0));
  query = {};
  query.dataset = "residents";
  EXPECT_THAT(All(query, 100), ElementsAre(6, 4, 3, 2, 0));
  query = {};
  query.decision = v1::AuditEntry::DECISION_DENY;
  EXPECT_THAT(All(query, 100), ElementsAre(4, 1));
  query = {};
  query.subject = "alice";
  EXPECT_THAT(All(query, 100), ElementsAre(6, 5, 2, 0));
  query = {};
  query.subject = "nobody";
  EXPECT_THAT(All(query, 100), ElementsAre());
  query = {};
  query.caller = "polic";  // a prefix of a caller matches nothing
  EXPECT_THAT(All(query, 100), ElementsAre());
}

TEST_F(AuditLogQueryTest, TimeRangeIsHalfOpen) {
  AuditQuery query;
  query.from = kT0 + absl::Minutes(2);
  query.to = kT0 + absl::Minutes(5);
  EXPECT_THAT(All(query, 100), ElementsAre(4, 3, 2));
  query.to = kT0 + absl::Minutes(5) - absl::Nanoseconds(1);
  EXPECT_THAT(All(query, 100), ElementsAre(4, 3, 2));
  query = {};
  query.from = kT0 + absl::Minutes(5);
  EXPECT_THAT(All(query, 100), ElementsAre(6, 5));
  query = {};
  query.to = kT0 + absl::Minutes(1);
  EXPECT_THAT(All(query, 100), ElementsAre(0));
  query.from = kT0 + absl::Minutes(1);
  EXPECT_THAT(log_->Query(query, "", 10).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("from must be before to")));
}

TEST_F(AuditLogQueryTest, CombinedFilters) {
  AuditQuery query;
  query.subject = "alice";
  query.caller = "police";
  EXPECT_THAT(All(query, 100), ElementsAre(6, 0));
  query.to = kT0 + absl::Minutes(6);
  EXPECT_THAT(All(query, 100), ElementsAre(0));
  query = {};
  query.caller = "police";
  query.dataset = "residents";
  query.decision = v1::AuditEntry::DECISION_ALLOW;
  EXPECT_THAT(All(query, 100), ElementsAre(6, 0));
  query = {};
  query.decision = v1::AuditEntry::DECISION_ALLOW;
  query.from = kT0 + absl::Minutes(3);
  EXPECT_THAT(All(query, 100), ElementsAre(6, 5, 3));
}

TEST_F(AuditLogQueryTest, PaginationCoversEveryEntryOnce) {
  AuditQuery query;
  EXPECT_THAT(All(query, 3), ElementsAre(6, 5, 4, 3, 2, 1, 0));
  EXPECT_THAT(All(query, 1), ElementsAre(6, 5, 4, 3, 2, 1, 0));
  query.subject = "alice";
  EXPECT_THAT(All(query, 2), ElementsAre(6, 5, 2, 0));
  query = {};
  query.from = kT0;
  EXPECT_THAT(All(query, 2), ElementsAre(6, 5, 4, 3, 2, 1, 0));
  query = {};
  query.caller = "police";
  query.decision = v1::AuditEntry::DECISION_ALLOW;
  EXPECT_THAT(All(query, 1), ElementsAre(6, 0));

  // Exactly one full page: no token, so no empty page follows.
  query = {};
  query.caller = "tax";
  absl::StatusOr<AuditQueryResult> result = log_->Query(query, "", 2);
  ASSERT_THAT(result.status(), IsOk());
  EXPECT_THAT(Sequences(*result), ElementsAre(5, 2));
  EXPECT_EQ(result->next_page_token, "");
}

TEST_F(AuditLogQueryTest, RejectsBadPageSizeTokenAndDecision) {
  AuditQuery query;
  EXPECT_THAT(log_->Query(query, "", -1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page size")));
  EXPECT_THAT(log_->Query(query, "", 1001).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page size")));
  absl::StatusOr<AuditQueryResult> first = log_->Query(query, "", 0);
  ASSERT_THAT(first.status(), IsOk());
  EXPECT_EQ(first->entries.size(), 7u);
  EXPECT_THAT(log_->Query(query, "not a token!", 10).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page token")));
  // A token of one query does not fit another.
  absl::StatusOr<AuditQueryResult> page = log_->Query(query, "", 2);
  ASSERT_THAT(page.status(), IsOk());
  AuditQuery other;
  other.caller = "police";
  EXPECT_THAT(log_->Query(other, page->next_page_token, 2).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page token")));
  other = {};
  other.decision = v1::AuditEntry::DECISION_UNSPECIFIED;
  EXPECT_THAT(log_->Query(other, "", 2).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("DECISION_ALLOW")));
}

}  // namespace
}  // namespace ndx::audit
