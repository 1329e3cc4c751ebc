// Gateway replicas of one cluster (real ndx-gateway processes over a real etcd): a change made
// through one replica is enforced by every other, a replica cut from etcd stops deciding after
// its staleness bound and recovers, and of two conflicting registry changes exactly one wins.

#include "integration/gateway_cluster.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "integration/federation.h"
#include "ndx/v1/audit.grpc.pb.h"
#include "ndx/v1/events.grpc.pb.h"
#include "ndx/v1/registry.grpc.pb.h"
#include "testing/status_matchers.h"
#include "testing/wait_for.h"

namespace ndx::testing {
namespace {

constexpr char kPurpose[] = "health-insurance-enrolment";
constexpr char kKey[] = "001090000001";

class GatewayClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string& why : {EtcdCluster::Unavailable(), NatsCluster::Unavailable()}) {
      if (!why.empty()) GTEST_SKIP() << why;
    }
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    absl::StatusOr<std::unique_ptr<GatewayCluster>> cluster =
        GatewayCluster::Start(federation_, options_);
    ASSERT_THAT(cluster, IsOk());
    cluster_ = *std::move(cluster);
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
  }

  // Exchange.Get through replica `i` alone.
  grpc::Status ReadThrough(int i) {
    auto exchange = v1::Exchange::NewStub(cluster_->ChannelTo(i, kInsuranceNode));
    return GetResident(*exchange, kKey, kPurpose);
  }

  // Waits up to `timeout` for a read through replica `i` to end with `code`; the time it took,
  // or nullopt.
  std::optional<absl::Duration> TimeUntilReadIs(int i, grpc::StatusCode code,
                                                absl::Duration timeout) {
    auto exchange = v1::Exchange::NewStub(cluster_->ChannelTo(i, kInsuranceNode));
    const absl::Time start = absl::Now();
    while (absl::Now() - start < timeout) {
      if (GetResident(*exchange, kKey, kPurpose).error_code() == code) return absl::Now() - start;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return std::nullopt;
  }

  Federation federation_;
  GatewayClusterOptions options_;
  std::unique_ptr<GatewayCluster> cluster_;
};

TEST_F(GatewayClusterTest, AGrantRevokedThroughOneReplicaIsRefusedByTheOthers) {
  absl::StatusOr<v1::Grant> grant =
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose});
  ASSERT_THAT(grant, IsOk());
  for (int i = 0; i < cluster_->size(); ++i) {
    ASSERT_TRUE(TimeUntilReadIs(i, grpc::StatusCode::OK, absl::Seconds(5)).has_value())
        << "replica " << cluster_->replica_id(i) << " does not enforce the new grant";
  }
  // Revoked through replica A (federation_ talks to replica 0).
  ASSERT_THAT(federation_.RevokeGrant(kPopulationNode, grant->id(), "end of the agreement"),
              IsOk());
  EXPECT_EQ(ReadThrough(0).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // The other replicas refuse within the staleness bound, the longest a replica may decide on
  // a registry it has not confirmed current; the lag itself is measured by the cluster bench.
  const absl::Duration bound = absl::Milliseconds(options_.registry_staleness_ms);
  for (int i = 1; i < cluster_->size(); ++i) {
    std::optional<absl::Duration> lag =
        TimeUntilReadIs(i, grpc::StatusCode::PERMISSION_DENIED, bound);
    ASSERT_TRUE(lag.has_value()) << "replica " << cluster_->replica_id(i)
                                 << " still allows the revoked grant after " << bound;
    std::cout << "replica " << cluster_->replica_id(i) << " refused the revoked grant after "
              << absl::FormatDuration(*lag) << "\n";
  }
}

TEST_F(GatewayClusterTest, ReplicasCutFromEtcdRefuseAfterTheBoundAndRecover) {
  ASSERT_THAT(
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
      IsOk());
  for (int i = 0; i < cluster_->size(); ++i) {
    ASSERT_TRUE(TimeUntilReadIs(i, grpc::StatusCode::OK, absl::Seconds(5)).has_value());
  }
  cluster_->etcd().StopAll();
  // Every replica goes on deciding from its snapshot for a while, then refuses.
  for (int i = 0; i < cluster_->size(); ++i) {
    ASSERT_TRUE(TimeUntilReadIs(i, grpc::StatusCode::UNAVAILABLE, absl::Seconds(10)).has_value())
        << "replica " << cluster_->replica_id(i) << " still decides without etcd";
  }
  auto exchange = v1::Exchange::NewStub(cluster_->ChannelTo(1, kInsuranceNode));
  grpc::Status refused = GetResident(*exchange, kKey, kPurpose);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.error_message(),
              ::testing::HasSubstr("has not confirmed its registry current with etcd"));
  ASSERT_THAT(cluster_->etcd().StartAll(), IsOk());
  for (int i = 0; i < cluster_->size(); ++i) {
    EXPECT_TRUE(TimeUntilReadIs(i, grpc::StatusCode::OK, absl::Seconds(20)).has_value())
        << "replica " << cluster_->replica_id(i) << " did not recover with etcd";
  }
}

TEST_F(GatewayClusterTest, OfTwoConflictingChangesThroughTwoReplicasExactlyOneWins) {
  // Each round: a consumer requests a grant, then its owner approves it through replica A while
  // an operator revokes it through replica B, at the same moment.
  auto owner = v1::Registry::NewStub(cluster_->ChannelTo(0, kPopulationNode));
  auto operator_ = v1::Registry::NewStub(cluster_->ChannelTo(1, kOperatorNode));
  int aborted = 0;
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    absl::StatusOr<v1::Grant> grant = federation_.Grant(
        kInsuranceNode, kResidents, {"citizen_id"}, {kPurpose}, absl::Hours(1), /*approve=*/false);
    ASSERT_THAT(grant, IsOk());
    // Both replicas must know the request before either decides on it.
    for (int i : {0, 1}) {
      auto reader = v1::Registry::NewStub(cluster_->ChannelTo(i, kOperatorNode));
      const absl::Time give_up = absl::Now() + absl::Seconds(5);
      while (true) {
        v1::GetGrantRequest get;
        get.set_grant_id(grant->id());
        v1::Grant found;
        grpc::ClientContext context;
        if (reader->GetGrant(&context, get, &found).ok()) break;
        ASSERT_LT(absl::Now(), give_up);
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
    absl::Barrier together(2);
    grpc::Status approved, revoked;
    std::thread approve([&] {
      v1::ApproveGrantRequest request;
      request.set_grant_id(grant->id());
      v1::Grant answer;
      grpc::ClientContext context;
      together.Block();
      approved = owner->ApproveGrant(&context, request, &answer);
    });
    std::thread revoke([&] {
      v1::RevokeGrantRequest request;
      request.set_grant_id(grant->id());
      request.set_reason("withdrawn by the platform");
      v1::Grant answer;
      grpc::ClientContext context;
      together.Block();
      revoked = operator_->RevokeGrant(&context, request, &answer);
    });
    approve.join();
    revoke.join();
    // Revoking an approved grant is allowed, approving a revoked one is not: the two may apply
    // one after the other (approve, then revoke), or one refuses. Never do both apply to the
    // same state.
    if (approved.ok() && revoked.ok()) continue;
    const grpc::Status& loser = approved.ok() ? revoked : approved;
    ASSERT_TRUE(approved.ok() || revoked.ok())
        << "both failed: " << approved.error_message() << " / " << revoked.error_message();
    if (loser.error_code() == grpc::StatusCode::ABORTED) {
      ++aborted;
      EXPECT_THAT(loser.error_message(),
                  ::testing::HasSubstr("was changed by another gateway replica after revision"));
    } else {
      EXPECT_EQ(loser.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << loser.error_message();
    }
  }
  std::cout << aborted << " of " << kRounds << " rounds ended with an ABORTED change\n";
}

TEST_F(GatewayClusterTest, AKilledReplicaUnderLoadLosesNoAnsweredReadAndNoAuditEntry) {
  ASSERT_THAT(
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
      IsOk());
  ASSERT_THAT(federation_.RegisterAuditor(), IsOk());
  for (int i = 0; i < cluster_->size(); ++i) {
    ASSERT_TRUE(TimeUntilReadIs(i, grpc::StatusCode::OK, absl::Seconds(5)).has_value());
  }
  // Reads spread over the three replicas by the client's channel, as ndxctl spreads them.
  auto exchange = v1::Exchange::NewStub(cluster_->BalancedChannel(kInsuranceNode));
  std::atomic<bool> loading{true};
  std::atomic<int> answered{0};
  absl::Mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (loading.load()) {
        grpc::Status status = GetResident(*exchange, kKey, kPurpose);
        if (status.ok()) {
          ++answered;
        } else {
          absl::MutexLock lock(&mutex);
          failures.push_back(status.error_message());
        }
      }
    });
  }
  absl::SleepFor(absl::Seconds(1));
  cluster_->KillReplica(1);
  const int answered_at_kill = answered.load();
  absl::SleepFor(absl::Seconds(1));
  ASSERT_THAT(cluster_->StartReplica(1), IsOk());
  absl::SleepFor(absl::Seconds(1));
  loading = false;
  for (std::thread& reader : readers) reader.join();
  std::cout << answered.load() << " reads answered, " << answered_at_kill
            << " of them before the kill\n";
  EXPECT_GT(answered.load(), answered_at_kill);
  // The calls in flight on the dead replica failed there and were retried on the others.
  EXPECT_TRUE(failures.empty()) << failures.size() << " reads failed, e.g. " << failures.front();

  // Every answered read is in some replica's log: count them through any replica, which asks
  // the others. A read the dead replica recorded but never answered is there too, so the log
  // may hold more entries than the client saw answers, never fewer.
  auto auditor = v1::Audit::NewStub(cluster_->ChannelTo(2, kAuditorNode));
  int recorded = 0;
  absl::flat_hash_set<std::string> logs;
  v1::QueryEntriesRequest query;
  query.set_caller(kInsuranceNode);
  query.set_dataset(kResidents);
  query.set_decision(v1::AuditEntry::DECISION_ALLOW);
  query.set_page_size(1000);
  do {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(20));
    v1::QueryEntriesResponse page;
    grpc::Status status = auditor->QueryEntries(&context, query, &page);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(page.unavailable_logs_size(), 0) << page.unavailable_logs(0).reason();
    for (int i = 0; i < page.entries_size(); ++i) {
      if (page.entries(i).operation() != "Get") continue;
      ++recorded;
      logs.insert(page.entry_logs(i));
    }
    query.set_page_token(page.next_page_token());
  } while (!query.page_token().empty());
  std::cout << recorded << " allowed reads recorded in " << logs.size() << " logs\n";
  EXPECT_GE(recorded, answered.load());
  EXPECT_EQ(logs.size(), 3u);
}

// Reads the events of a dataset over the cluster as a subscriber would: one stream at a time,
// each event acknowledged, and a new stream (on any replica) whenever one ends.
class ResubscribingReader {
 public:
  ResubscribingReader(std::shared_ptr<grpc::Channel> channel, std::string dataset)
      : events_(v1::Events::NewStub(std::move(channel))), dataset_(std::move(dataset)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ResubscribingReader() {
    {
      absl::MutexLock lock(&mutex_);
      stopping_ = true;
      if (context_ != nullptr) context_->TryCancel();
    }
    thread_.join();
  }

  // Each stream's sequences, in the order they arrived.
  std::vector<std::vector<uint64_t>> streams() {
    absl::MutexLock lock(&mutex_);
    return streams_;
  }
  bool Received(uint64_t sequence) {
    absl::MutexLock lock(&mutex_);
    for (const std::vector<uint64_t>& stream : streams_) {
      if (std::find(stream.begin(), stream.end(), sequence) != stream.end()) return true;
    }
    return false;
  }

 private:
  void Run() {
    while (true) {
      grpc::ClientContext context;
      {
        absl::MutexLock lock(&mutex_);
        if (stopping_) return;
        context_ = &context;
        streams_.emplace_back();
      }
      v1::SubscribeRequest request;
      request.set_dataset(dataset_);
      request.set_purpose(kPurpose);
      auto reader = events_->Subscribe(&context, request);
      v1::SubscribeResponse response;
      while (reader->Read(&response)) {
        if (!response.has_event()) continue;
        const uint64_t sequence = response.event().sequence();
        {
          absl::MutexLock lock(&mutex_);
          streams_.back().push_back(sequence);
        }
        v1::AckRequest ack;
        ack.set_dataset(dataset_);
        ack.set_sequence(sequence);
        v1::AckResponse acked;
        grpc::ClientContext ack_context;
        SetTimeout(&ack_context, absl::Seconds(10));
        events_->Ack(&ack_context, ack, &acked);
      }
      reader->Finish();
      {
        absl::MutexLock lock(&mutex_);
        context_ = nullptr;
        if (stopping_) return;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  std::unique_ptr<v1::Events::Stub> events_;
  const std::string dataset_;
  absl::Mutex mutex_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mutex_) = nullptr;
  std::vector<std::vector<uint64_t>> streams_ ABSL_GUARDED_BY(mutex_);
  std::thread thread_;
};

class GatewayClusterEventsTest : public GatewayClusterTest {
 protected:
  GatewayClusterEventsTest() { options_.nats_servers = 3; }

  // Publishes one event of mops/residents through the cluster, again until a replica takes it;
  // its sequence.
  uint64_t Publish(v1::Events::Stub& events, int n) {
    while (true) {
      v1::PublishRequest request;
      request.set_dataset(kResidents);
      request.set_key(absl::StrCat("00109000", 1000 + n));
      request.set_type("residence.registered");
      v1::PublishResponse response;
      grpc::ClientContext context;
      SetTimeout(&context, absl::Seconds(10));
      if (events.Publish(&context, request, &response).ok()) return response.event().sequence();
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
};

TEST_F(GatewayClusterEventsTest, EventsSurviveTheDeathOfAReplicaAndOfANatsServer) {
  absl::StatusOr<v1::Grant> grant =
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id"}, {kPurpose});
  ASSERT_THAT(grant, IsOk());
  auto publisher = v1::Events::NewStub(cluster_->BalancedChannel(kPopulationNode));
  std::vector<uint64_t> published;
  {
    ResubscribingReader reader(cluster_->BalancedChannel(kInsuranceNode), kResidents);
    // The subscription exists once its first stream is open: what is published after it is its.
    // Probes published before it may never be delivered; the first one delivered counts.
    uint64_t probe = 0;
    ASSERT_TRUE(WaitFor([&] {
      probe = Publish(*publisher, 0);
      absl::SleepFor(absl::Milliseconds(100));
      return reader.Received(probe);
    }));
    published.push_back(probe);
    // Each replica dies in turn, so that whichever holds the stream dies once; then a NATS
    // server of the three.
    for (int i = 0; i < cluster_->size(); ++i) {
      for (int n = 0; n < 5; ++n) published.push_back(Publish(*publisher, n));
      cluster_->KillReplica(i);
      for (int n = 0; n < 5; ++n) published.push_back(Publish(*publisher, n));
      ASSERT_THAT(cluster_->StartReplica(i), IsOk());
    }
    cluster_->nats().Kill(1);
    for (int n = 0; n < 10; ++n) published.push_back(Publish(*publisher, n));
    ASSERT_THAT(cluster_->nats().Restart(1), IsOk());
    for (int n = 0; n < 5; ++n) published.push_back(Publish(*publisher, n));
    for (uint64_t sequence : published) {
      EXPECT_TRUE(WaitFor([&] { return reader.Received(sequence); }, absl::Seconds(30)))
          << "event " << sequence << " was never delivered";
    }
    // In order within each stream; a new stream may deliver again what was not acknowledged.
    std::vector<std::vector<uint64_t>> streams = reader.streams();
    for (const std::vector<uint64_t>& stream : streams) {
      EXPECT_TRUE(std::is_sorted(stream.begin(), stream.end())) << ::testing::PrintToString(stream);
      EXPECT_EQ(std::adjacent_find(stream.begin(), stream.end()), stream.end());
    }
    std::cout << published.size() << " events published, delivered over " << streams.size()
              << " streams\n";
  }

  // No grant in force: what is published then is not the subscriber's, even once it has a new
  // grant and subscribes again.
  ASSERT_THAT(federation_.RevokeGrant(kPopulationNode, grant->id(), "agreement suspended"), IsOk());
  std::vector<uint64_t> without_grant;
  for (int n = 0; n < 3; ++n) without_grant.push_back(Publish(*publisher, n));
  ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents, {"citizen_id"}, {kPurpose}), IsOk());
  ResubscribingReader reader(cluster_->BalancedChannel(kInsuranceNode), kResidents);
  ASSERT_TRUE(WaitFor([&] {
    const uint64_t probe = Publish(*publisher, 0);
    absl::SleepFor(absl::Milliseconds(100));
    return reader.Received(probe);
  }));
  for (uint64_t sequence : without_grant) {
    EXPECT_FALSE(reader.Received(sequence))
        << "event " << sequence << " was published while no grant was in force";
  }
}

}  // namespace
}  // namespace ndx::testing
