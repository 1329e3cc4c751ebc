#include "events/event_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/proto_time.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx::events {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::IsOkAndHolds;
using ::ndx::testing::StatusIs;
using ::ndx::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kBirths[] = "moj/births";
constexpr char kDeaths[] = "moj/deaths";
constexpr char kPopulation[] = "mops/population";
constexpr char kInsurance[] = "vss/social-insurance";
const absl::Time kT0 = absl::FromUnixSeconds(1700000000);
const std::string kSealingKey(32, 'k');

std::optional<crypto::Sealer> KeySealer() {
  return *crypto::Sealer::Create(kSealingKey, "event keys");
}

// Every byte of every file under `dir`.
std::string AllBytes(const std::string& dir) {
  std::string bytes;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream file(entry.path(), std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  return bytes;
}

v1::Event MakeEvent(const std::string& dataset, const std::string& key,
                    absl::Time published = kT0) {
  v1::Event event;
  event.set_dataset(dataset);
  event.set_key(key);
  event.set_type("birth.registered");
  event.set_publisher("moj/civil-status");
  *event.mutable_published_at() = ToProtoTime(published);
  return event;
}

v1::Subscription MakeSubscription(const std::string& subscriber, const std::string& dataset) {
  v1::Subscription subscription;
  subscription.set_subscriber(subscriber);
  subscription.set_dataset(dataset);
  subscription.set_grant_id("g-" + subscriber);
  subscription.set_purpose("permanent-residence-registration");
  return subscription;
}

std::vector<uint64_t> Sequences(const std::vector<v1::Event>& events) {
  std::vector<uint64_t> sequences;
  for (const v1::Event& event : events) sequences.push_back(event.sequence());
  return sequences;
}

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    auto store =
        EventStore::Open({.dir = dir_.Join("events"), .sync = false, .key_sealer = KeySealer()});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }

  void Subscribe(const std::string& subscriber, const std::string& dataset) {
    ASSERT_THAT(store_->OpenSubscription(MakeSubscription(subscriber, dataset), true), IsOk());
  }

  void Append(const std::string& dataset, int count, absl::Time published = kT0) {
    for (int i = 0; i < count; ++i) {
      ASSERT_THAT(store_->Append(MakeEvent(dataset, "key-" + std::to_string(i), published)),
                  IsOk());
    }
  }

  std::vector<uint64_t> Stored(const std::string& dataset) {
    auto events = store_->Read(dataset, 0, 1000);
    EXPECT_THAT(events, IsOk());
    return events.ok() ? Sequences(*events) : std::vector<uint64_t>{};
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, SequencesArePerDatasetFromOneWithoutGaps) {
  Subscribe(kPopulation, kBirths);
  Subscribe(kPopulation, kDeaths);
  auto b1 = store_->Append(MakeEvent(kBirths, "B-1"));
  auto d1 = store_->Append(MakeEvent(kDeaths, "D-1"));
  auto b2 = store_->Append(MakeEvent(kBirths, "B-2"));
  ASSERT_THAT(b1, IsOk());
  ASSERT_THAT(d1, IsOk());
  ASSERT_THAT(b2, IsOk());
  EXPECT_EQ(b1->sequence(), 1u);
  EXPECT_EQ(d1->sequence(), 1u);
  EXPECT_EQ(b2->sequence(), 2u);
  EXPECT_EQ(store_->Head(kBirths), 2u);
  EXPECT_EQ(store_->Head("moj/unknown"), 0u);
  auto births = store_->Read(kBirths, 1, 10);
  ASSERT_THAT(births, IsOk());
  ASSERT_EQ(births->size(), 2u);
  EXPECT_EQ((*births)[0].key(), "B-1");
  EXPECT_EQ((*births)[1].key(), "B-2");
  EXPECT_EQ((*births)[1].type(), "birth.registered");
}

TEST_F(EventStoreTest, ReadStartsAtTheGivenSequenceAndStopsAtTheLimit) {
  Subscribe(kPopulation, kBirths);
  Append(kBirths, 10);
  auto events = store_->Read(kBirths, 4, 3);
  ASSERT_THAT(events, IsOk());
  EXPECT_THAT(Sequences(*events), ElementsAre(4, 5, 6));
}

TEST_F(EventStoreTest, DatasetWhoseIdPrefixesAnotherKeepsItsOwnEvents) {
  Subscribe(kPopulation, "moj/birth");
  Subscribe(kPopulation, "moj/births");
  Append("moj/birth", 2);
  Append("moj/births", 3);
  EXPECT_THAT(Stored("moj/birth"), ElementsAre(1, 2));
  EXPECT_THAT(Stored("moj/births"), ElementsAre(1, 2, 3));
}

TEST_F(EventStoreTest, WithoutSubscriptionOnlyTheSequenceAdvances) {
  Append(kBirths, 3);
  EXPECT_EQ(store_->Head(kBirths), 3u);
  EXPECT_THAT(Stored(kBirths), IsEmpty());
  Subscribe(kPopulation, kBirths);
  Append(kBirths, 1);
  EXPECT_THAT(Stored(kBirths), ElementsAre(4));
}

TEST_F(EventStoreTest, NewSubscriptionStartsAtTheHead) {
  Subscribe(kInsurance, kBirths);
  Append(kBirths, 3);
  auto opened = store_->OpenSubscription(MakeSubscription(kPopulation, kBirths), true);
  ASSERT_THAT(opened, IsOk());
  EXPECT_EQ(opened->acknowledged_sequence(), 3u);
  EXPECT_EQ(store_->FindSubscription(kPopulation, kBirths)->acknowledged_sequence(), 3u);
}

TEST_F(EventStoreTest, ResumedSubscriptionKeepsItsPositionButNotBeyondTheHead) {
  Subscribe(kPopulation, kBirths);
  Append(kBirths, 3);
  v1::Subscription resumed = MakeSubscription(kPopulation, kBirths);
  resumed.set_acknowledged_sequence(2);
  ASSERT_THAT(store_->OpenSubscription(resumed, false), IsOk());
  EXPECT_EQ(store_->FindSubscription(kPopulation, kBirths)->acknowledged_sequence(), 2u);
  resumed.set_acknowledged_sequence(4);
  EXPECT_THAT(store_->OpenSubscription(resumed, false),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond the head 3")));
}

TEST_F(EventStoreTest, AcknowledgeMovesForwardOnly) {
  Subscribe(kPopulation, kBirths);
  Append(kBirths, 5);
  EXPECT_THAT(store_->Acknowledge(kPopulation, kBirths, 3), IsOkAndHolds(3u));
  EXPECT_THAT(store_->Acknowledge(kPopulation, kBirths, 2), IsOkAndHolds(3u));
  EXPECT_THAT(store_->Acknowledge(kPopulation, kBirths, 6),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("moj/births #6 was never published; the latest is #5")));
  EXPECT_THAT(store_->Acknowledge(kInsurance, kBirths, 1),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("node vss/social-insurance has no subscription to moj/births")));
  EXPECT_THAT(store_->Acknowledge(kPopulation, "moj/unknown", 1),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(EventStoreTest, TrimRemovesWhatEverySubscriptionAcknowledged) {
  Subscribe(kPopulation, kBirths);
  Subscribe(kInsurance, kBirths);
  Append(kBirths, 5);
  ASSERT_THAT(store_->Acknowledge(kPopulation, kBirths, 4), IsOk());
  ASSERT_THAT(store_->Acknowledge(kInsurance, kBirths, 2), IsOk());
  EXPECT_THAT(store_->TrimAcknowledged(kBirths), IsOkAndHolds(2u));
  EXPECT_THAT(Stored(kBirths), ElementsAre(3, 4, 5));
  ASSERT_THAT(store_->Acknowledge(kInsurance, kBirths, 5), IsOk());
  EXPECT_THAT(store_->TrimAcknowledged(kBirths), IsOkAndHolds(2u));
  EXPECT_THAT(Stored(kBirths), ElementsAre(5));
  EXPECT_THAT(store_->TrimAcknowledged(kBirths), IsOkAndHolds(0u));
}

TEST_F(EventStoreTest, EverythingSurvivesAReopen) {
  Subscribe(kPopulation, kBirths);
  Append(kBirths, 4);
  ASSERT_THAT(store_->Acknowledge(kPopulation, kBirths, 2), IsOk());
  ASSERT_THAT(store_->TrimAcknowledged(kBirths), IsOk());
  Reopen();
  EXPECT_EQ(store_->Head(kBirths), 4u);
  EXPECT_EQ(store_->FindSubscription(kPopulation, kBirths)->acknowledged_sequence(), 2u);
  EXPECT_THAT(Stored(kBirths), ElementsAre(3, 4));
  auto next = store_->Append(MakeEvent(kBirths, "B-5"));
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->sequence(), 5u);
  // The trimmed range stays trimmed: a trim after the reopen starts from the first stored event.
  ASSERT_THAT(store_->Acknowledge(kPopulation, kBirths, 3), IsOk());
  EXPECT_THAT(store_->TrimAcknowledged(kBirths), IsOkAndHolds(1u));
}

TEST_F(EventStoreTest, SequenceSurvivesAReopenWithoutSubscriptions) {
  Append(kBirths, 3);
  Reopen();
  Subscribe(kPopulation, kBirths);
  EXPECT_EQ(store_->FindSubscription(kPopulation, kBirths)->acknowledged_sequence(), 3u);
  auto next = store_->Append(MakeEvent(kBirths, "B-4"));
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->sequence(), 4u);
}

TEST_F(EventStoreTest, SweepDeletesSubscriptionsNotKeptAndTheEventsOnlyTheyNeeded) {
  Subscribe(kPopulation, kBirths);
  Subscribe(kInsurance, kBirths);
  Append(kBirths, 3);
  ASSERT_THAT(store_->Acknowledge(kPopulation, kBirths, 3), IsOk());
  auto result = store_->Sweep(
      [](const v1::Subscription& subscription) { return subscription.subscriber() != kInsurance; },
      kT0 - absl::Hours(1));
  ASSERT_THAT(result, IsOk());
  ASSERT_EQ(result->deleted_subscriptions.size(), 1u);
  EXPECT_EQ(result->deleted_subscriptions[0].subscriber(), kInsurance);
  EXPECT_EQ(result->acknowledged_events, 3u);
  EXPECT_FALSE(store_->FindSubscription(kInsurance, kBirths).has_value());
  EXPECT_THAT(Stored(kBirths), IsEmpty());
  Reopen();
  EXPECT_FALSE(store_->FindSubscription(kInsurance, kBirths).has_value());
}

TEST_F(EventStoreTest, SweepExpiresOldEventsAndCountsThemPerSubscription) {
  Subscribe(kPopulation, kBirths);
  Subscribe(kInsurance, kBirths);
  Append(kBirths, 3, kT0);                    // #1-#3: old
  Append(kBirths, 2, kT0 + absl::Hours(48));  // #4-#5: recent
  ASSERT_THAT(store_->Acknowledge(kPopulation, kBirths, 2), IsOk());
  auto keep = [](const v1::Subscription&) { return true; };
  auto result = store_->Sweep(keep, kT0 + absl::Hours(24));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->acknowledged_events, 0u);
  EXPECT_EQ(result->expired_event_count, 3u);
  EXPECT_THAT(Stored(kBirths), ElementsAre(4, 5));
  ASSERT_EQ(result->expired.size(), 2u);
  // mops/population had acknowledged #1-#2, so only #3 expired for it; vss/social-insurance
  // had acknowledged nothing, so #1-#3 did.
  EXPECT_EQ(result->expired[0].subscriber, kPopulation);
  EXPECT_EQ(result->expired[0].first_sequence, 3u);
  EXPECT_EQ(result->expired[0].last_sequence, 3u);
  EXPECT_EQ(result->expired[1].subscriber, kInsurance);
  EXPECT_EQ(result->expired[1].first_sequence, 1u);
  EXPECT_EQ(result->expired[1].last_sequence, 3u);
  EXPECT_EQ(store_->FindSubscription(kPopulation, kBirths)->expired_events(), 1u);
  EXPECT_EQ(store_->FindSubscription(kInsurance, kBirths)->expired_events(), 3u);
  // Positions are not moved: the subscriber learns of the gap when it next reads.
  EXPECT_EQ(store_->FindSubscription(kInsurance, kBirths)->acknowledged_sequence(), 0u);

  // A second sweep does not count the same events again.
  auto again = store_->Sweep(keep, kT0 + absl::Hours(24));
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(again->expired, IsEmpty());
  EXPECT_EQ(store_->FindSubscription(kInsurance, kBirths)->expired_events(), 3u);
}

TEST_F(EventStoreTest, SubscriptionsAreListedByDatasetThenSubscriber) {
  Subscribe(kPopulation, kDeaths);
  Subscribe(kInsurance, kBirths);
  Subscribe(kPopulation, kBirths);
  std::vector<std::string> listed;
  for (const v1::Subscription& s : store_->Subscriptions()) {
    listed.push_back(s.dataset() + " " + s.subscriber());
  }
  EXPECT_THAT(listed, ElementsAre("moj/births mops/population", "moj/births vss/social-insurance",
                                  "moj/deaths mops/population"));
  EXPECT_EQ(store_->Subscriptions(kDeaths).size(), 1u);
  EXPECT_EQ(store_->SubscriptionCount(kBirths), 2u);
}

TEST_F(EventStoreTest, ConcurrentAppendsGetDistinctContiguousSequences) {
  Subscribe(kPopulation, kBirths);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) ASSERT_THAT(store_->Append(MakeEvent(kBirths, "k")), IsOk());
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<uint64_t> stored = Stored(kBirths);
  ASSERT_EQ(stored.size(), 200u);
  for (size_t i = 0; i < stored.size(); ++i) EXPECT_EQ(stored[i], i + 1);
}

TEST_F(EventStoreTest, SecondOpenOfTheSameDirectoryIsUnavailable) {
  EXPECT_THAT(EventStore::Open({.dir = dir_.Join("events"), .key_sealer = KeySealer()}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("in use by another process")));
}

TEST(EventStoreOpenTest, NeedsAKeySealer) {
  TempDir dir;
  EXPECT_THAT(EventStore::Open({.dir = dir.Join("events"), .key_sealer = std::nullopt}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key_sealer")));
}

TEST_F(EventStoreTest, KeysAreStoredSealedAndReadInTheClear) {
  Subscribe(kPopulation, kBirths);
  const std::string citizen = "001099912345";
  ASSERT_THAT(store_->Append(MakeEvent(kBirths, citizen)), IsOk());
  auto events = store_->Read(kBirths, 1, 10);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].key(), citizen);
  store_.reset();  // the memtable goes to disk
  EXPECT_EQ(AllBytes(dir_.Join("events")).find(citizen), std::string::npos);
  Reopen();
  events = store_->Read(kBirths, 1, 10);
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ((*events)[0].key(), citizen);
}

TEST_F(EventStoreTest, KeysStoredInTheClearByAnEarlierVersionAreSealedAtOpen) {
  Subscribe(kPopulation, kBirths);
  Append(kBirths, 1);
  store_.reset();
  {
    // What an earlier version wrote: the event under e/ with its key in the clear.
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.Join("events"), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    v1::Event event = MakeEvent(kBirths, "001099912345");
    event.set_sequence(2);
    std::string key =
        std::string("e/") + kBirths + std::string(1, '\0') + std::string("\0\0\0\0\0\0\0\2", 8);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, event.SerializeAsString()).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), std::string("h/") + kBirths,
                        std::string("\0\0\0\0\0\0\0\2", 8))
                    .ok());
    ASSERT_TRUE(db->Close().ok());
  }
  Reopen();
  auto events = store_->Read(kBirths, 1, 10);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].sequence(), 2u);
  EXPECT_EQ((*events)[1].key(), "001099912345");
  store_.reset();
  // Not in any file either: the clear record was not only deleted but rewritten away.
  EXPECT_EQ(AllBytes(dir_.Join("events")).find("001099912345"), std::string::npos);
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.Join("events"), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      EXPECT_EQ(it->value().ToString().find("001099912345"), std::string::npos)
          << it->key().ToString();
    }
  }
}

TEST_F(EventStoreTest, KeysDoNotOpenUnderAnotherSealingKey) {
  Subscribe(kPopulation, kBirths);
  Append(kBirths, 1);
  store_.reset();
  auto other =
      EventStore::Open({.dir = dir_.Join("events"),
                        .key_sealer = *crypto::Sealer::Create(std::string(32, 'x'), "event keys")});
  ASSERT_THAT(other, IsOk());
  EXPECT_THAT((*other)->Read(kBirths, 1, 10),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("sealing key")));
}

}  // namespace
}  // namespace ndx::events
