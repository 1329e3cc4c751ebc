#include "cluster/membership.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cluster/etcd_client.h"
#include "testing/etcd_cluster.h"
#include "testing/status_matchers.h"
#include "testing/test_pki.h"
#include "testing/wait_for.h"

namespace ndx::cluster {
namespace {

using ::ndx::testing::EtcdCluster;
using ::ndx::testing::WaitFor;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::ElementsAre;

std::vector<std::string> Ids(const Membership& membership) {
  std::vector<std::string> ids;
  for (const Member& member : membership.Members()) ids.push_back(member.replica_id);
  return ids;
}

class MembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = EtcdCluster::Unavailable(); !why.empty()) GTEST_SKIP() << why;
    absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd = EtcdCluster::Start(pki_);
    ASSERT_THAT(etcd, IsOk());
    etcd_ = std::move(*etcd);
    absl::StatusOr<std::unique_ptr<EtcdClient>> client =
        EtcdClient::Connect(etcd_->ClientOptions());
    ASSERT_THAT(client, IsOk());
    client_ = std::move(*client);
  }

  // Joins as `replica_id` at 127.0.0.1:<port>.
  std::unique_ptr<Membership> Join(const std::string& replica_id, int port,
                                   absl::Duration ttl = absl::Seconds(30)) {
    EtcdMembershipOptions options;
    options.self = Member{replica_id, "127.0.0.1:" + std::to_string(port)};
    options.ttl = ttl;
    absl::StatusOr<std::unique_ptr<Membership>> membership = JoinCluster(client_.get(), options);
    EXPECT_THAT(membership, IsOk());
    return membership.ok() ? std::move(*membership) : nullptr;
  }

  // The replica ids registered in etcd.
  std::vector<std::string> KeysInEtcd() {
    etcdserverpb::RangeRequest range;
    range.set_key("/ndx/members/");
    range.set_range_end(PrefixRangeEnd("/ndx/members/"));
    range.set_keys_only(true);
    std::vector<std::string> ids;
    absl::StatusOr<etcdserverpb::RangeResponse> response = client_->Range(range);
    if (!response.ok()) return ids;
    for (const mvccpb::KeyValue& kv : response->kvs()) {
      ids.push_back(kv.key().substr(std::string("/ndx/members/").size()));
    }
    return ids;
  }

  testing::TestPki pki_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(MembershipTest, TwoReplicasSeeEachOther) {
  std::unique_ptr<Membership> a = Join("a", 7001);
  std::unique_ptr<Membership> b = Join("b", 7002);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->self().replica_id, "a");
  // b read a at its start; a learns of b from its watch.
  EXPECT_THAT(Ids(*b), ElementsAre("a", "b"));
  ASSERT_TRUE(WaitFor([&] { return Ids(*a).size() == 2; })) << ::testing::PrintToString(Ids(*a));
  const std::vector<Member> members = a->Members();
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].replica_id, "a");
  EXPECT_EQ(members[0].address, "127.0.0.1:7001");
  EXPECT_EQ(members[1].replica_id, "b");
  EXPECT_EQ(members[1].address, "127.0.0.1:7002");
}

TEST_F(MembershipTest, AReplicaThatStopsLeavesAtOnce) {
  // A TTL far beyond the wait below: only the revocation can remove b in time.
  std::unique_ptr<Membership> a = Join("a", 7001, absl::Seconds(60));
  std::unique_ptr<Membership> b = Join("b", 7002, absl::Seconds(60));
  ASSERT_TRUE(WaitFor([&] { return Ids(*a).size() == 2; }));
  b.reset();
  EXPECT_THAT(KeysInEtcd(), ElementsAre("a"));
  ASSERT_TRUE(WaitFor([&] { return Ids(*a).size() == 1; }, absl::Seconds(10)));
  EXPECT_THAT(Ids(*a), ElementsAre("a"));
}

TEST_F(MembershipTest, AReplicaThatDiesLeavesWhenItsLeaseExpires) {
  std::unique_ptr<Membership> a = Join("a", 7001, absl::Seconds(2));
  std::unique_ptr<Membership> b = Join("b", 7002, absl::Seconds(2));
  ASSERT_TRUE(WaitFor([&] { return Ids(*a).size() == 2; }));
  CrashForTest(*b);
  // Still registered, as nobody revoked its lease...
  EXPECT_THAT(KeysInEtcd(), ElementsAre("a", "b"));
  // ...until the lease expires, while a's own is kept alive throughout.
  ASSERT_TRUE(WaitFor([&] { return Ids(*a).size() == 1; }));
  EXPECT_THAT(Ids(*a), ElementsAre("a"));
  EXPECT_THAT(KeysInEtcd(), ElementsAre("a"));
}

TEST_F(MembershipTest, AReplicaWhoseLeaseIsRevokedRegistersAgain) {
  std::unique_ptr<Membership> a = Join("a", 7001, absl::Seconds(3));
  etcdserverpb::RangeRequest range;
  range.set_key("/ndx/members/a");
  absl::StatusOr<etcdserverpb::RangeResponse> key = client_->Range(range);
  ASSERT_THAT(key, IsOk());
  ASSERT_EQ(key->kvs_size(), 1);
  ASSERT_THAT(client_->LeaseRevoke(key->kvs(0).lease()), IsOk());
  // Gone with the lease, then back under a new one.
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<etcdserverpb::RangeResponse> again = client_->Range(range);
    return again.ok() && again->kvs_size() == 1 && again->kvs(0).lease() != key->kvs(0).lease();
  }));
}

TEST_F(MembershipTest, KeepsTheLastListWhileEtcdIsDownAndRejoinsWhenItIsBack) {
  std::unique_ptr<Membership> a = Join("a", 7001, absl::Seconds(2));
  std::unique_ptr<Membership> b = Join("b", 7002, absl::Seconds(2));
  ASSERT_TRUE(WaitFor([&] { return Ids(*a).size() == 2; }));

  etcd_->StopAll();
  // Longer than the TTL: the keep-alives fail meanwhile.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_THAT(Ids(*a), ElementsAre("a", "b"));
  EXPECT_THAT(Ids(*b), ElementsAre("a", "b"));

  ASSERT_THAT(etcd_->StartAll(), IsOk());
  // Both are registered again (their leases outlived the outage or were granted anew) and
  // follow each other with new watches.
  ASSERT_TRUE(WaitFor([&] { return KeysInEtcd() == std::vector<std::string>{"a", "b"}; }));
  std::unique_ptr<Membership> c = Join("c", 7003, absl::Seconds(2));
  ASSERT_TRUE(WaitFor([&] { return Ids(*a).size() == 3 && Ids(*b).size() == 3; }))
      << ::testing::PrintToString(Ids(*a)) << " " << ::testing::PrintToString(Ids(*b));
}

TEST_F(MembershipTest, JoiningFailsUnavailableWithoutEtcd) {
  etcd_->StopAll();
  EtcdMembershipOptions options;
  options.self = Member{"a", "127.0.0.1:7001"};
  EXPECT_THAT(JoinCluster(client_.get(), options), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(MembershipTest, RefusesAReplicaIdThatIsNotOneKeySegment) {
  EtcdMembershipOptions options;
  options.self = Member{"a/b", "127.0.0.1:7001"};
  EXPECT_THAT(JoinCluster(client_.get(), options), StatusIs(absl::StatusCode::kInvalidArgument));
  options.self.replica_id = "";
  EXPECT_THAT(JoinCluster(client_.get(), options), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MembershipOverThreeEtcdMembersTest, FollowsTheMembersAcrossTheCrashOfAnEtcdMember) {
  if (std::string why = EtcdCluster::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  testing::TestPki pki;
  absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd = EtcdCluster::Start(pki, 3);
  ASSERT_THAT(etcd, IsOk());
  absl::StatusOr<std::unique_ptr<EtcdClient>> client =
      EtcdClient::Connect((*etcd)->ClientOptions());
  ASSERT_THAT(client, IsOk());
  auto join = [&](const std::string& replica_id) -> std::unique_ptr<Membership> {
    EtcdMembershipOptions options;
    options.self = Member{replica_id, "127.0.0.1:7000"};
    options.ttl = absl::Seconds(3);
    absl::StatusOr<std::unique_ptr<Membership>> membership = JoinCluster(client->get(), options);
    EXPECT_THAT(membership, IsOk());
    return membership.ok() ? std::move(*membership) : nullptr;
  };
  std::unique_ptr<Membership> a = join("a");
  std::unique_ptr<Membership> b = join("b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Ids(*a).size() == 2; }));

  // Whichever member served the watches, the replicas go on following each other.
  for (int crashed = 0; crashed < 3; ++crashed) {
    (*etcd)->Kill(crashed);
    const std::string id = "c" + std::to_string(crashed);
    std::unique_ptr<Membership> c;
    ASSERT_TRUE(WaitFor([&] {
      // A join may meet an election; it is retried here as a replica's supervisor would.
      EtcdMembershipOptions options;
      options.self = Member{id, "127.0.0.1:7000"};
      options.ttl = absl::Seconds(3);
      absl::StatusOr<std::unique_ptr<Membership>> joined = JoinCluster(client->get(), options);
      if (joined.ok()) c = std::move(*joined);
      return joined.ok();
    }));
    ASSERT_TRUE(WaitFor([&] { return Ids(*a).size() == 3 && Ids(*b).size() == 3; }))
        << ::testing::PrintToString(Ids(*a)) << " " << ::testing::PrintToString(Ids(*b));
    c.reset();
    ASSERT_TRUE(WaitFor([&] { return Ids(*a).size() == 2 && Ids(*b).size() == 2; }));
    ASSERT_THAT((*etcd)->Restart(crashed), IsOk());
  }
}

}  // namespace
}  // namespace ndx::cluster
