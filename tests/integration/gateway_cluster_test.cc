// Gateway replicas of one cluster (real ndx-gateway processes over a real etcd): a change made
// through one replica is enforced by every other, a replica cut from etcd stops deciding after
// its staleness bound and recovers, and of two conflicting registry changes exactly one wins.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "absl/time/clock.h"
#include "integration/federation.h"
#include "integration/gateway_cluster.h"
#include "ndx/v1/registry.grpc.pb.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

constexpr char kPurpose[] = "health-insurance-enrolment";
constexpr char kKey[] = "001090000001";

class GatewayClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = EtcdCluster::Unavailable(); !why.empty()) GTEST_SKIP() << why;
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

}  // namespace
}  // namespace ndx::testing
