// The JetStream event store against real nats-server processes (1, or 3 in a cluster) over mTLS.

#include "events/jetstream_event_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "testing/nats_cluster.h"
#include "testing/status_matchers.h"
#include "testing/test_pki.h"

namespace ndx::events {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::IsOkAndHolds;
using ::ndx::testing::NatsCluster;
using ::ndx::testing::StatusIs;
using ::ndx::testing::TestPki;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kBirths[] = "moj/births";
constexpr char kDeaths[] = "moj/deaths";
constexpr char kPopulation[] = "mops/population";
constexpr char kInsurance[] = "vss/social-insurance";
const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

crypto::Sealer KeySealer() { return *crypto::Sealer::Create(std::string(32, 'k'), "event keys"); }

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

absl::Status AdmitAll(size_t) { return absl::OkStatus(); }

JetStreamEventStoreOptions Options(const NatsCluster& cluster, const std::string& prefix,
                                   int replicas) {
  JetStreamEventStoreOptions options;
  options.urls = cluster.urls();
  options.ca_file = cluster.client_tls().ca_file;
  options.cert_file = cluster.client_tls().cert_file;
  options.key_file = cluster.client_tls().key_file;
  options.stream_replicas = replicas;
  options.prefix = prefix;
  options.key_sealer = KeySealer();
  options.retention = absl::Hours(24);
  return options;
}

// A listener that keeps what it is told. Thread-safe.
class Changes {
 public:
  EventBackend::ChangeListener Listener() {
    return [this](const RemoteChange& change) {
      absl::MutexLock lock(&mutex_);
      changes_.push_back(change);
    };
  }
  // Waits until a change of `kind` to `dataset` came.
  bool Wait(RemoteChange::Kind kind, const std::string& dataset) {
    absl::MutexLock lock(&mutex_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      for (const RemoteChange& change : changes_) {
        if (change.kind == kind && change.dataset == dataset) return true;
      }
      return false;
    };
    return mutex_.AwaitWithTimeout(absl::Condition(&seen), absl::Seconds(10));
  }

 private:
  absl::Mutex mutex_;
  std::vector<RemoteChange> changes_ ABSL_GUARDED_BY(mutex_);
};

// One standalone server for the suite; each test has its own names (prefix).
class JetStreamEventStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!NatsCluster::Unavailable().empty()) return;
    pki_ = new TestPki();
    auto cluster = NatsCluster::Start(*pki_, 1);
    ASSERT_THAT(cluster.status(), IsOk());
    cluster_ = cluster->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    if (cluster_ == nullptr) GTEST_SKIP() << NatsCluster::Unavailable();
    prefix_ = absl::StrCat("t", ++tests_);
    auto store = OpenJetStreamEventStore(Options(*cluster_, prefix_, 1));
    ASSERT_THAT(store.status(), IsOk());
    store_ = *std::move(store);
  }

  void Subscribe(const std::string& subscriber, const std::string& dataset) {
    ASSERT_THAT(store_->OpenSubscription(MakeSubscription(subscriber, dataset), true, AdmitAll),
                IsOk());
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

  uint64_t Position(const std::string& subscriber, const std::string& dataset) {
    auto found = store_->LookupSubscription(subscriber, dataset);
    EXPECT_THAT(found.status(), IsOk());
    return found.ok() && found->has_value() ? (*found)->acknowledged_sequence() : ~uint64_t{0};
  }

  static TestPki* pki_;
  static NatsCluster* cluster_;
  static int tests_;
  std::string prefix_;
  std::unique_ptr<EventBackend> store_;
};

TestPki* JetStreamEventStoreTest::pki_ = nullptr;
NatsCluster* JetStreamEventStoreTest::cluster_ = nullptr;
int JetStreamEventStoreTest::tests_ = 0;

TEST_F(JetStreamEventStoreTest, SequencesArePerDatasetFromOneWithoutGaps) {
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
  EXPECT_THAT(store_->ReadHead(kBirths), IsOkAndHolds(2u));
  EXPECT_THAT(store_->ReadHead("moj/unknown"), IsOkAndHolds(0u));
  auto births = store_->Read(kBirths, 1, 10);
  ASSERT_THAT(births, IsOk());
  ASSERT_EQ(births->size(), 2u);
  EXPECT_EQ((*births)[0].key(), "B-1");
  EXPECT_EQ((*births)[0].dataset(), kBirths);
  EXPECT_EQ((*births)[1].key(), "B-2");
  EXPECT_EQ((*births)[1].type(), "birth.registered");
  EXPECT_EQ((*births)[1].publisher(), "moj/civil-status");
  EXPECT_EQ(FromProtoTime((*births)[1].published_at()), kT0);
}

TEST_F(JetStreamEventStoreTest, ReadStartsAtTheGivenSequenceAndStopsAtTheLimit) {
  Subscribe(kPopulation, kBirths);
  Append(kBirths, 10);
  auto events = store_->Read(kBirths, 4, 3);
  ASSERT_THAT(events, IsOk());
  EXPECT_THAT(Sequences(*events), ElementsAre(4, 5, 6));
  EXPECT_THAT(store_->Read("moj/unknown", 1, 3), IsOkAndHolds(IsEmpty()));
}

TEST_F(JetStreamEventStoreTest, NewSubscriptionStartsAtTheHead) {
  Subscribe(kInsurance, kBirths);
  Append(kBirths, 3);
  auto opened = store_->OpenSubscription(MakeSubscription(kPopulation, kBirths), true, AdmitAll);
  ASSERT_THAT(opened, IsOk());
  EXPECT_EQ(opened->acknowledged_sequence(), 3u);
  EXPECT_EQ(Position(kPopulation, kBirths), 3u);
  auto found = store_->LookupSubscription(kPopulation, kBirths);
  ASSERT_THAT(found.status(), IsOk());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->grant_id(), "g-mops/population");
  EXPECT_EQ((*found)->purpose(), "permanent-residence-registration");
  EXPECT_THAT(
      store_->LookupSubscription(kPopulation, kDeaths),
      IsOkAndHolds(::testing::Property(&std::optional<v1::Subscription>::has_value, false)));
}

TEST_F(JetStreamEventStoreTest, ResumedSubscriptionKeepsItsPositionButNotBeyondTheHead) {
  Subscribe(kPopulation, kBirths);
  Append(kBirths, 3);
  v1::Subscription resumed = MakeSubscription(kPopulation, kBirths);
  resumed.set_acknowledged_sequence(2);
  ASSERT_THAT(store_->OpenSubscription(resumed, false, AdmitAll), IsOk());
  EXPECT_EQ(Position(kPopulation, kBirths), 2u);
  resumed.set_acknowledged_sequence(4);
  EXPECT_THAT(store_->OpenSubscription(resumed, false, AdmitAll),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beyond the head 3")));
}

TEST_F(JetStreamEventStoreTest, NewSubscriptionsAreAdmittedWithTheSubscribersCount) {
  Subscribe(kPopulation, kBirths);
  std::vector<size_t> asked;
  auto refuse = [&](size_t held) {
    asked.push_back(held);
    return absl::ResourceExhaustedError("too many");
  };
  EXPECT_THAT(store_->OpenSubscription(MakeSubscription(kPopulation, kDeaths), true, refuse),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(
      store_->LookupSubscription(kPopulation, kDeaths),
      IsOkAndHolds(::testing::Property(&std::optional<v1::Subscription>::has_value, false)));
  // Resuming is not a new subscription: it is not asked.
  EXPECT_THAT(store_->OpenSubscription(MakeSubscription(kPopulation, kBirths), false, refuse),
              IsOk());
  EXPECT_THAT(asked, ElementsAre(1u));
}

TEST_F(JetStreamEventStoreTest, AcknowledgeMovesForwardOnly) {
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
  EXPECT_EQ(Position(kPopulation, kBirths), 3u);
}

TEST_F(JetStreamEventStoreTest, TrimRemovesWhatEverySubscriptionAcknowledged) {
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
  // The sequence goes on after what was removed.
  auto next = store_->Append(MakeEvent(kBirths, "B-6"));
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->sequence(), 6u);
}

TEST_F(JetStreamEventStoreTest, WithoutSubscriptionATrimLeavesOnlyTheSequence) {
  Append(kBirths, 3);
  EXPECT_THAT(store_->TrimAcknowledged(kBirths), IsOkAndHolds(3u));
  EXPECT_THAT(Stored(kBirths), IsEmpty());
  EXPECT_THAT(store_->ReadHead(kBirths), IsOkAndHolds(3u));
  Subscribe(kPopulation, kBirths);
  EXPECT_EQ(Position(kPopulation, kBirths), 3u);
  Append(kBirths, 1);
  EXPECT_THAT(Stored(kBirths), ElementsAre(4));
}

TEST_F(JetStreamEventStoreTest, EverythingSurvivesAnotherStoreInstance) {
  Subscribe(kPopulation, kBirths);
  Append(kBirths, 4);
  ASSERT_THAT(store_->Acknowledge(kPopulation, kBirths, 2), IsOk());
  ASSERT_THAT(store_->TrimAcknowledged(kBirths), IsOk());
  store_.reset();
  auto reopened = OpenJetStreamEventStore(Options(*cluster_, prefix_, 1));
  ASSERT_THAT(reopened.status(), IsOk());
  store_ = *std::move(reopened);
  EXPECT_THAT(store_->ReadHead(kBirths), IsOkAndHolds(4u));
  EXPECT_EQ(Position(kPopulation, kBirths), 2u);
  EXPECT_THAT(Stored(kBirths), ElementsAre(3, 4));
  auto next = store_->Append(MakeEvent(kBirths, "B-5"));
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->sequence(), 5u);
}

TEST_F(JetStreamEventStoreTest, SweepDeletesSubscriptionsNotKeptAndTheEventsOnlyTheyNeeded) {
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
  EXPECT_THAT(
      store_->LookupSubscription(kInsurance, kBirths),
      IsOkAndHolds(::testing::Property(&std::optional<v1::Subscription>::has_value, false)));
  EXPECT_THAT(Stored(kBirths), IsEmpty());
  EXPECT_THAT(store_->CountSubscriptions(kBirths), IsOkAndHolds(1u));
}

TEST_F(JetStreamEventStoreTest, SweepExpiresOldEventsAndCountsThemPerSubscription) {
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
  EXPECT_EQ(result->expired[0].subscriber, kPopulation);
  EXPECT_EQ(result->expired[0].first_sequence, 3u);
  EXPECT_EQ(result->expired[0].last_sequence, 3u);
  EXPECT_EQ(result->expired[1].subscriber, kInsurance);
  EXPECT_EQ(result->expired[1].first_sequence, 1u);
  EXPECT_EQ(result->expired[1].last_sequence, 3u);
  auto population = store_->LookupSubscription(kPopulation, kBirths);
  auto insurance = store_->LookupSubscription(kInsurance, kBirths);
  ASSERT_THAT(population.status(), IsOk());
  ASSERT_THAT(insurance.status(), IsOk());
  EXPECT_EQ((*population)->expired_events(), 1u);
  EXPECT_EQ((*insurance)->expired_events(), 3u);
  EXPECT_EQ((*insurance)->acknowledged_sequence(), 0u);

  auto again = store_->Sweep(keep, kT0 + absl::Hours(24));
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(again->expired, IsEmpty());
  EXPECT_EQ(store_->LookupSubscription(kInsurance, kBirths)->value().expired_events(), 3u);
}

TEST_F(JetStreamEventStoreTest, TwoStoresSweepingAtOnceCountEachExpiredEventOnce) {
  Subscribe(kInsurance, kBirths);
  Append(kBirths, 3, kT0);
  auto other = OpenJetStreamEventStore(Options(*cluster_, prefix_, 1));
  ASSERT_THAT(other.status(), IsOk());
  auto keep = [](const v1::Subscription&) { return true; };
  absl::StatusOr<SweepResult> first;
  std::thread sweeper([&] { first = (*other)->Sweep(keep, kT0 + absl::Hours(1)); });
  auto second = store_->Sweep(keep, kT0 + absl::Hours(1));
  sweeper.join();
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(first->expired.size() + second->expired.size(), 1u);
  EXPECT_EQ(store_->LookupSubscription(kInsurance, kBirths)->value().expired_events(), 3u);
  EXPECT_THAT(Stored(kBirths), IsEmpty());
}

TEST_F(JetStreamEventStoreTest, SubscriptionsAreListedByDatasetThenSubscriber) {
  Subscribe(kPopulation, kDeaths);
  Subscribe(kInsurance, kBirths);
  Subscribe(kPopulation, kBirths);
  auto all = store_->ListSubscriptions("");
  ASSERT_THAT(all.status(), IsOk());
  std::vector<std::string> listed;
  for (const v1::Subscription& s : *all) listed.push_back(s.dataset() + " " + s.subscriber());
  EXPECT_THAT(listed, ElementsAre("moj/births mops/population", "moj/births vss/social-insurance",
                                  "moj/deaths mops/population"));
  auto deaths = store_->ListSubscriptions(kDeaths);
  ASSERT_THAT(deaths.status(), IsOk());
  EXPECT_EQ(deaths->size(), 1u);
  EXPECT_THAT(store_->CountSubscriptions(kBirths), IsOkAndHolds(2u));
  EXPECT_THAT(store_->CountSubscriptions("moj/unknown"), IsOkAndHolds(0u));
}

TEST_F(JetStreamEventStoreTest, ConcurrentAppendsGetDistinctContiguousSequences) {
  Subscribe(kPopulation, kBirths);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) ASSERT_THAT(store_->Append(MakeEvent(kBirths, "k")), IsOk());
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<uint64_t> stored = Stored(kBirths);
  ASSERT_EQ(stored.size(), 100u);
  for (size_t i = 0; i < stored.size(); ++i) EXPECT_EQ(stored[i], i + 1);
}

TEST_F(JetStreamEventStoreTest, KeysReachNatsSealedAndAreReadInTheClear) {
  Subscribe(kPopulation, kBirths);
  const std::string citizen = "001099912345";
  auto event = MakeEvent(kBirths, citizen);
  event.set_type("birth.registered-marker");
  ASSERT_THAT(store_->Append(event), IsOk());
  auto events = store_->Read(kBirths, 1, 10);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].key(), citizen);
  // The event is in the server's files (its type is there, in the clear), its key is not.
  std::string files;
  for (absl::Time give_up = absl::Now() + absl::Seconds(10); absl::Now() < give_up;
       absl::SleepFor(absl::Milliseconds(100))) {
    files = AllBytes(cluster_->store_dir(0));
    if (files.find("birth.registered-marker") != std::string::npos) break;
  }
  ASSERT_NE(files.find("birth.registered-marker"), std::string::npos);
  EXPECT_EQ(files.find(citizen), std::string::npos);
}

TEST_F(JetStreamEventStoreTest, KeysDoNotOpenUnderAnotherSealingKey) {
  Subscribe(kPopulation, kBirths);
  Append(kBirths, 1);
  JetStreamEventStoreOptions options = Options(*cluster_, prefix_, 1);
  options.key_sealer = *crypto::Sealer::Create(std::string(32, 'x'), "event keys");
  auto other = OpenJetStreamEventStore(options);
  ASSERT_THAT(other.status(), IsOk());
  EXPECT_THAT((*other)->Read(kBirths, 1, 10),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("sealing key")));
}

TEST_F(JetStreamEventStoreTest, BadOptionsAreNamed) {
  JetStreamEventStoreOptions options = Options(*cluster_, prefix_, 1);
  options.urls = {"nats://127.0.0.1:4222"};
  EXPECT_THAT(OpenJetStreamEventStore(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must start with tls://")));
  options = Options(*cluster_, prefix_, 1);
  options.key_sealer.reset();
  EXPECT_THAT(OpenJetStreamEventStore(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key_sealer")));
  options = Options(*cluster_, prefix_, 1);
  options.stream_replicas = 7;
  EXPECT_THAT(OpenJetStreamEventStore(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("give 1 to 5")));
  options = Options(*cluster_, "bad.prefix", 1);
  EXPECT_THAT(OpenJetStreamEventStore(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only letters, digits")));
  options = Options(*cluster_, prefix_, 1);
  options.cert_file = "/nonexistent/cert.pem";
  EXPECT_THAT(OpenJetStreamEventStore(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("TLS files")));
}

// A client without a certificate of the cluster CA is refused: the servers verify clients.
TEST_F(JetStreamEventStoreTest, AClientOfAnotherCaIsRefused) {
  JetStreamEventStoreOptions options = Options(*cluster_, prefix_, 1);
  crypto::TlsFilePaths other = pki_->OtherCaNode("moh/hospital");
  options.cert_file = other.cert_file;
  options.key_file = other.key_file;
  options.request_timeout = absl::Seconds(2);
  EXPECT_THAT(OpenJetStreamEventStore(options),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("client certificate")));
}

// Three servers in a cluster, streams with three replicas, two stores as two gateway replicas.
class JetStreamClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!NatsCluster::Unavailable().empty()) GTEST_SKIP() << NatsCluster::Unavailable();
    auto cluster = NatsCluster::Start(pki_, 3);
    ASSERT_THAT(cluster.status(), IsOk());
    cluster_ = *std::move(cluster);
    for (auto* store : {&a_, &b_}) {
      auto opened = OpenJetStreamEventStore(Options(*cluster_, "ndx", 3));
      ASSERT_THAT(opened.status(), IsOk());
      *store = *std::move(opened);
    }
  }

  TestPki pki_;
  std::unique_ptr<NatsCluster> cluster_;
  std::unique_ptr<EventBackend> a_;
  std::unique_ptr<EventBackend> b_;
};

TEST_F(JetStreamClusterTest, PublishOnOneReplicaReceiveAndAckOnTheOtherResumeOnTheFirst) {
  Changes seen_by_a;
  Changes seen_by_b;
  a_->SetChangeListener(seen_by_a.Listener());
  b_->SetChangeListener(seen_by_b.Listener());
  ASSERT_THAT(b_->OpenSubscription(MakeSubscription(kPopulation, kBirths), true, AdmitAll), IsOk());
  for (int i = 1; i <= 3; ++i) {
    ASSERT_THAT(a_->Append(MakeEvent(kBirths, absl::StrCat("B-", i))), IsOk());
  }
  EXPECT_TRUE(seen_by_b.Wait(RemoteChange::Kind::kPublished, kBirths));
  auto received = b_->Read(kBirths, 1, 10);
  ASSERT_THAT(received, IsOk());
  ASSERT_EQ(received->size(), 3u);
  EXPECT_EQ((*received)[2].key(), "B-3");
  EXPECT_THAT(b_->Acknowledge(kPopulation, kBirths, 2), IsOkAndHolds(2u));
  EXPECT_TRUE(seen_by_a.Wait(RemoteChange::Kind::kAcknowledged, kBirths));
  // The subscriber comes back through the first replica: it resumes after #2.
  auto resumed = a_->LookupSubscription(kPopulation, kBirths);
  ASSERT_THAT(resumed.status(), IsOk());
  ASSERT_TRUE(resumed->has_value());
  EXPECT_EQ((*resumed)->acknowledged_sequence(), 2u);
  auto rest = a_->Read(kBirths, 3, 10);
  ASSERT_THAT(rest, IsOk());
  EXPECT_THAT(Sequences(*rest), ElementsAre(3));
  a_->AnnounceStream(kPopulation, kBirths);
  EXPECT_TRUE(seen_by_b.Wait(RemoteChange::Kind::kSubscribed, kBirths));
  a_->SetChangeListener(nullptr);
  b_->SetChangeListener(nullptr);
}

// A server dies while events are published: every publication that returned OK is delivered,
// in order, and the sequence has no gap.
TEST_F(JetStreamClusterTest, EveryAcknowledgedPublicationSurvivesTheDeathOfAServer) {
  ASSERT_THAT(b_->OpenSubscription(MakeSubscription(kPopulation, kBirths), true, AdmitAll), IsOk());
  std::vector<std::string> published;  // keys whose Append returned OK, in order
  for (int i = 0; i < 120; ++i) {
    if (i == 40) cluster_->Kill(0);
    if (i == 80) ASSERT_THAT(cluster_->Restart(0), IsOk());
    std::string key = absl::StrCat("K-", i);
    absl::StatusOr<v1::Event> appended = a_->Append(MakeEvent(kBirths, key));
    if (appended.ok()) published.push_back(key);
  }
  EXPECT_GE(published.size(), 100u);
  std::vector<v1::Event> delivered;
  for (absl::Time give_up = absl::Now() + absl::Seconds(30); absl::Now() < give_up;) {
    auto read = b_->Read(kBirths, delivered.empty() ? 1 : delivered.back().sequence() + 1, 64);
    if (!read.ok()) {
      absl::SleepFor(absl::Milliseconds(200));
      continue;
    }
    if (read->empty()) break;
    delivered.insert(delivered.end(), read->begin(), read->end());
  }
  for (size_t i = 0; i < delivered.size(); ++i) EXPECT_EQ(delivered[i].sequence(), i + 1);
  // Each published key in the order published (a failed Append may still have been stored).
  size_t next = 0;
  for (const v1::Event& event : delivered) {
    if (next < published.size() && event.key() == published[next]) ++next;
  }
  EXPECT_EQ(next, published.size()) << "publication " << published[next] << " is missing";
}

}  // namespace
}  // namespace ndx::events
