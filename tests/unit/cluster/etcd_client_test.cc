#include "cluster/etcd_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "testing/etcd_cluster.h"
#include "testing/status_matchers.h"
#include "testing/test_pki.h"

namespace ndx::cluster {
namespace {

using ::ndx::testing::EtcdCluster;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(PrefixRangeEndTest, IncrementsTheLastByte) {
  EXPECT_EQ(PrefixRangeEnd("a"), "b");
  EXPECT_EQ(PrefixRangeEnd("aa"), "ab");
  EXPECT_EQ(PrefixRangeEnd("/ndx/members/"), "/ndx/members0");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\0", 2)), std::string("a\x01", 2));
}

TEST(PrefixRangeEndTest, DropsTrailingFfBytes) {
  EXPECT_EQ(PrefixRangeEnd("a\xff"), "b");
  EXPECT_EQ(PrefixRangeEnd("ab\xff\xff"), "ac");
}

TEST(PrefixRangeEndTest, AllKeysWhenNothingCanBeIncremented) {
  EXPECT_EQ(PrefixRangeEnd(""), std::string(1, '\0'));
  EXPECT_EQ(PrefixRangeEnd("\xff\xff"), std::string(1, '\0'));
}

TEST(EtcdTargetTest, OneEndpointAsItIsSeveralAsAnAddressList) {
  EXPECT_THAT(EtcdTarget({"etcd.example:2379"}),
              ndx::testing::IsOkAndHolds(std::string("etcd.example:2379")));
  EXPECT_EQ(*EtcdTarget({"10.0.0.1:2379", "10.0.0.2:2379"}), "ipv4:10.0.0.1:2379,10.0.0.2:2379");
  EXPECT_EQ(*EtcdTarget({"[::1]:2379", "[fd00::2]:2379"}), "ipv6:[::1]:2379,[fd00::2]:2379");
}

TEST(EtcdTargetTest, RefusesWhatOneChannelCannotSpreadOver) {
  EXPECT_THAT(EtcdTarget({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EtcdTarget({"a.example:2379", "b.example:2379"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("IP address and port")));
  EXPECT_THAT(EtcdTarget({"10.0.0.1:2379", "[::1]:2379"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EtcdTarget({"10.0.0.1", "10.0.0.2:2379"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

class EtcdClientTest : public ::testing::Test {
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

  // The response of a put of `key` = `value`.
  etcdserverpb::PutResponse Put(const std::string& key, const std::string& value) {
    etcdserverpb::PutRequest put;
    put.set_key(key);
    put.set_value(value);
    absl::StatusOr<etcdserverpb::PutResponse> response = client_->Put(put);
    EXPECT_THAT(response, IsOk());
    return response.ok() ? *response : etcdserverpb::PutResponse();
  }

  // The values of the keys starting with `prefix`, in key order.
  std::vector<std::string> Values(const std::string& prefix) {
    etcdserverpb::RangeRequest range;
    range.set_key(prefix);
    range.set_range_end(PrefixRangeEnd(prefix));
    absl::StatusOr<etcdserverpb::RangeResponse> response = client_->Range(range);
    EXPECT_THAT(response, IsOk());
    std::vector<std::string> values;
    if (response.ok()) {
      for (const mvccpb::KeyValue& kv : response->kvs()) values.push_back(kv.value());
    }
    return values;
  }

  // A compare-and-swap of `key` from `mod_revision` to `value`.
  absl::StatusOr<etcdserverpb::TxnResponse> Swap(const std::string& key, int64_t mod_revision,
                                                 const std::string& value) {
    etcdserverpb::TxnRequest txn;
    etcdserverpb::Compare* compare = txn.add_compare();
    compare->set_key(key);
    compare->set_target(etcdserverpb::Compare::MOD);
    compare->set_result(etcdserverpb::Compare::EQUAL);
    compare->set_mod_revision(mod_revision);
    etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(value);
    txn.add_failure()->mutable_request_range()->set_key(key);
    return client_->Txn(txn);
  }

  testing::TestPki pki_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdClientTest, PutRangeAndDeleteRange) {
  Put("/t/a", "1");
  Put("/t/b", "2");
  Put("/u/c", "3");
  EXPECT_THAT(Values("/t/"), ElementsAre("1", "2"));

  etcdserverpb::DeleteRangeRequest remove;
  remove.set_key("/t/a");
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> removed = client_->DeleteRange(remove);
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(removed->deleted(), 1);
  EXPECT_THAT(Values("/t/"), ElementsAre("2"));
}

TEST_F(EtcdClientTest, CompareAndSwapOnModRevisionHasOneWinner) {
  const int64_t revision = Put("/cas", "first").header().revision();

  absl::StatusOr<etcdserverpb::TxnResponse> winner = Swap("/cas", revision, "winner");
  ASSERT_THAT(winner, IsOk());
  EXPECT_TRUE(winner->succeeded());
  absl::StatusOr<etcdserverpb::TxnResponse> loser = Swap("/cas", revision, "loser");
  ASSERT_THAT(loser, IsOk());
  EXPECT_FALSE(loser->succeeded());
  // The loser's failure branch read what beat it.
  ASSERT_EQ(loser->responses_size(), 1);
  ASSERT_EQ(loser->responses(0).response_range().kvs_size(), 1);
  EXPECT_EQ(loser->responses(0).response_range().kvs(0).value(), "winner");
  EXPECT_EQ(loser->responses(0).response_range().kvs(0).mod_revision(),
            winner->header().revision());
  EXPECT_THAT(Values("/cas"), ElementsAre("winner"));
}

TEST_F(EtcdClientTest, WatchFromAStartRevisionDeliversLaterPutsInOrder) {
  const int64_t start = Put("/w/k", "v1").header().revision();
  Put("/w/k", "v2");
  Put("/w/other", "v3");
  Put("/outside", "not watched");

  etcdserverpb::WatchCreateRequest create;
  create.set_key("/w/");
  create.set_range_end(PrefixRangeEnd("/w/"));
  create.set_start_revision(start);
  absl::StatusOr<std::unique_ptr<EtcdClient::WatchStream>> watch = client_->Watch(create);
  ASSERT_THAT(watch, IsOk());
  Put("/w/k", "v4");

  std::vector<std::string> values;
  int64_t last_revision = 0;
  bool created = false;
  while (values.size() < 4) {
    absl::StatusOr<etcdserverpb::WatchResponse> response = (*watch)->Next();
    ASSERT_THAT(response, IsOk());
    ASSERT_FALSE(response->canceled()) << response->cancel_reason();
    created = created || response->created();
    for (const mvccpb::Event& event : response->events()) {
      EXPECT_EQ(event.type(), mvccpb::Event::PUT);
      EXPECT_GT(event.kv().mod_revision(), last_revision);
      last_revision = event.kv().mod_revision();
      values.push_back(event.kv().value());
    }
  }
  EXPECT_TRUE(created);
  EXPECT_THAT(values, ElementsAre("v1", "v2", "v3", "v4"));
  (*watch)->Cancel();
  EXPECT_THAT((*watch)->Next(), StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(EtcdClientTest, ProgressRequestGetsAProgressResponse) {
  const int64_t revision = Put("/p/k", "v").header().revision();
  etcdserverpb::WatchCreateRequest create;
  create.set_key("/p/");
  create.set_range_end(PrefixRangeEnd("/p/"));
  absl::StatusOr<std::unique_ptr<EtcdClient::WatchStream>> watch = client_->Watch(create);
  ASSERT_THAT(watch, IsOk());
  absl::StatusOr<etcdserverpb::WatchResponse> created = (*watch)->Next();
  ASSERT_THAT(created, IsOk());
  EXPECT_TRUE(created->created());

  ASSERT_TRUE((*watch)->RequestProgress());
  absl::StatusOr<etcdserverpb::WatchResponse> progress = (*watch)->Next();
  ASSERT_THAT(progress, IsOk());
  EXPECT_FALSE(progress->created());
  EXPECT_FALSE(progress->canceled());
  EXPECT_EQ(progress->events_size(), 0);
  EXPECT_GE(progress->header().revision(), revision);
}

TEST_F(EtcdClientTest, LeaseKeepAliveUntilRevoked) {
  absl::StatusOr<etcdserverpb::LeaseGrantResponse> lease = client_->LeaseGrant(10);
  ASSERT_THAT(lease, IsOk());
  EXPECT_GE(lease->ttl(), 10);
  etcdserverpb::PutRequest put;
  put.set_key("/leased");
  put.set_value("v");
  put.set_lease(lease->id());
  ASSERT_THAT(client_->Put(put), IsOk());

  EXPECT_THAT(client_->LeaseKeepAliveOnce(lease->id()),
              ndx::testing::IsOkAndHolds(::testing::Gt(0)));
  ASSERT_THAT(client_->LeaseRevoke(lease->id()), IsOk());
  EXPECT_THAT(client_->LeaseKeepAliveOnce(lease->id()),
              ndx::testing::IsOkAndHolds(::testing::Le(0)));
  EXPECT_THAT(Values("/leased"), ::testing::IsEmpty());
}

TEST_F(EtcdClientTest, ErrorsKeepTheCodeAndNameTheCallAndEndpoints) {
  etcd_->StopAll();
  etcdserverpb::RangeRequest range;
  range.set_key("/k");
  EXPECT_THAT(client_->Range(range),
              StatusIs(absl::StatusCode::kUnavailable,
                       StartsWith(absl::StrCat("etcd Range on ", etcd_->endpoints()[0], ": "))));
  etcdserverpb::WatchCreateRequest create;
  create.set_key("/k");
  absl::StatusOr<std::unique_ptr<EtcdClient::WatchStream>> watch = client_->Watch(create);
  if (watch.ok()) {
    EXPECT_THAT((*watch)->Next(),
                StatusIs(absl::StatusCode::kUnavailable, StartsWith("etcd Watch on ")));
  } else {
    EXPECT_THAT(watch, StatusIs(absl::StatusCode::kUnavailable, StartsWith("etcd Watch on ")));
  }
}

TEST_F(EtcdClientTest, ACertificateOfThePlatformCaIsRefused) {
  // A node's certificate, and trust in the cluster CA, so that the refusal is etcd's.
  const crypto::TlsFilePaths node = pki_.Node("x/y");
  EtcdOptions options = etcd_->ClientOptions();
  options.tls.cert_file = node.cert_file;
  options.tls.key_file = node.key_file;
  absl::StatusOr<std::unique_ptr<EtcdClient>> outsider = EtcdClient::Connect(options);
  ASSERT_THAT(outsider, IsOk());
  etcdserverpb::RangeRequest range;
  range.set_key("/k");
  EXPECT_THAT((*outsider)->Range(range), StatusIs(absl::StatusCode::kUnavailable));
  // As it is, trusting the platform CA, the node refuses etcd as well.
  absl::StatusOr<std::unique_ptr<EtcdClient>> node_as_is =
      EtcdClient::Connect(EtcdOptions{etcd_->endpoints(), node});
  ASSERT_THAT(node_as_is, IsOk());
  EXPECT_THAT((*node_as_is)->Range(range), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(client_->Range(range), IsOk());
}

TEST(EtcdClusterTest, ThreeMembersKeepServingWhenOneCrashesAndTakeItBack) {
  if (std::string why = EtcdCluster::Unavailable(); !why.empty()) GTEST_SKIP() << why;
  testing::TestPki pki;
  absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd = EtcdCluster::Start(pki, 3);
  ASSERT_THAT(etcd, IsOk());
  ASSERT_EQ((*etcd)->endpoints().size(), 3u);
  absl::StatusOr<std::unique_ptr<EtcdClient>> client =
      EtcdClient::Connect((*etcd)->ClientOptions());
  ASSERT_THAT(client, IsOk());
  etcdserverpb::PutRequest put;
  put.set_key("/k");
  put.set_value("before");
  ASSERT_THAT((*client)->Put(put), IsOk());

  (*etcd)->Kill(0);
  // A new election may be under way: writes succeed again within a bounded wait.
  put.set_value("during");
  const absl::Time give_up = absl::Now() + absl::Seconds(15);
  absl::Status written;
  do {
    written = (*client)->Put(put).status();
    if (!written.ok()) absl::SleepFor(absl::Milliseconds(100));
  } while (!written.ok() && absl::Now() < give_up);
  ASSERT_THAT(written, IsOk());

  ASSERT_THAT((*etcd)->Restart(0), IsOk());
  // The restarted member alone answers with what was written while it was down.
  EtcdOptions only_first = (*etcd)->ClientOptions();
  only_first.endpoints = {(*etcd)->endpoints()[0]};
  absl::StatusOr<std::unique_ptr<EtcdClient>> first = EtcdClient::Connect(only_first);
  ASSERT_THAT(first, IsOk());
  etcdserverpb::RangeRequest range;
  range.set_key("/k");
  absl::StatusOr<etcdserverpb::RangeResponse> read = (*first)->Range(range);
  ASSERT_THAT(read, IsOk());
  ASSERT_EQ(read->kvs_size(), 1);
  EXPECT_EQ(read->kvs(0).value(), "during");
}

}  // namespace
}  // namespace ndx::cluster
