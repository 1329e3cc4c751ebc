#include "registry/etcd_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cluster/etcd_client.h"
#include "registry_test_util.h"
#include "testing/etcd_cluster.h"
#include "testing/test_pki.h"
#include "testing/wait_for.h"

namespace ndx::registry::testing {
namespace {

using ::ndx::testing::EtcdCluster;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::ndx::testing::WaitFor;
using ::testing::HasSubstr;

v1::Node Node(const std::string& id, const std::string& display_name) {
  v1::Node node;
  node.set_id(id);
  node.set_display_name(display_name);
  node.set_state(v1::NODE_STATE_ACTIVE);
  return node;
}

v1::Grant Grant(const std::string& id, v1::GrantState state) {
  v1::Grant grant;
  grant.set_id(id);
  grant.set_consumer(kConsumer);
  grant.set_dataset(kDataset);
  grant.set_state(state);
  return grant;
}

// Two replicas' registries over one etcd, as two gateway replicas hold them.
class EtcdRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = EtcdCluster::Unavailable(); !why.empty()) GTEST_SKIP() << why;
    absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd = EtcdCluster::Start(pki_);
    ASSERT_THAT(etcd, IsOk());
    etcd_ = *std::move(etcd);
    absl::StatusOr<std::unique_ptr<cluster::EtcdClient>> client =
        cluster::EtcdClient::Connect(etcd_->ClientOptions());
    ASSERT_THAT(client, IsOk());
    client_ = *std::move(client);
  }

  std::unique_ptr<Registry> OpenReplica(const std::string& name,
                                        absl::Duration staleness = absl::Seconds(5)) {
    EtcdRegistryOptions options;
    options.etcd = client_.get();
    options.dir = dir_.Join(name);
    options.staleness_bound = staleness;
    absl::StatusOr<std::unique_ptr<Registry>> registry = OpenEtcdRegistry(options);
    EXPECT_THAT(registry, IsOk());
    return registry.ok() ? *std::move(registry) : nullptr;
  }

  ::ndx::testing::TestPki pki_;
  ::ndx::testing::TempDir dir_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<cluster::EtcdClient> client_;
};

TEST_F(EtcdRegistryTest, AChangeThroughOneReplicaReachesTheOther) {
  std::unique_ptr<Registry> a = OpenReplica("a");
  std::unique_ptr<Registry> b = OpenReplica("b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  absl::StatusOr<uint64_t> revision = a->PutNode(Node("civil/registry", "Civil status"));
  ASSERT_THAT(revision, IsOk());
  // The writer reads what it wrote at once.
  EXPECT_EQ(a->snapshot()->revision(), *revision);
  ASSERT_NE(a->snapshot()->FindNode("civil/registry"), nullptr);
  EXPECT_TRUE(WaitFor([&] { return b->snapshot()->FindNode("civil/registry") != nullptr; }));
  EXPECT_EQ(b->snapshot()->revision(), *revision);
  EXPECT_THAT(a->CheckFresh(), IsOk());
  EXPECT_THAT(b->CheckFresh(), IsOk());
}

TEST_F(EtcdRegistryTest, OfTwoChangesDecidedOnOneRevisionOneWinsAndTheOtherIsAborted) {
  std::unique_ptr<Registry> a = OpenReplica("a");
  std::unique_ptr<Registry> b = OpenReplica("b");
  ASSERT_THAT(a->PutGrant(Grant("g-1", v1::GRANT_STATE_REQUESTED)), IsOk());
  ASSERT_TRUE(WaitFor([&] { return b->snapshot()->FindGrant("g-1") != nullptr; }));
  // Both operators read the requested grant; one approves it, the other revokes it.
  const uint64_t read = a->snapshot()->revision();
  ASSERT_EQ(b->snapshot()->revision(), read);
  ASSERT_THAT(a->PutGrantAsOf(Grant("g-1", v1::GRANT_STATE_APPROVED), read), IsOk());
  EXPECT_THAT(b->PutGrantAsOf(Grant("g-1", v1::GRANT_STATE_REVOKED), read),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("grant g-1 was changed by another gateway replica after "
                                 "revision")));
  ASSERT_TRUE(WaitFor([&] {
    const v1::Grant* grant = b->snapshot()->FindGrant("g-1");
    return grant != nullptr && grant->state() == v1::GRANT_STATE_APPROVED;
  }));
  EXPECT_EQ(a->snapshot()->FindGrant("g-1")->state(), v1::GRANT_STATE_APPROVED);
  // Decided again on what it now reads, the revocation applies.
  EXPECT_THAT(b->PutGrant(Grant("g-1", v1::GRANT_STATE_REVOKED)), IsOk());
  EXPECT_TRUE(
      WaitFor([&] { return a->snapshot()->FindGrant("g-1")->state() == v1::GRANT_STATE_REVOKED; }));
}

TEST_F(EtcdRegistryTest, ChangesToOtherRecordsDoNotConflict) {
  std::unique_ptr<Registry> a = OpenReplica("a");
  std::unique_ptr<Registry> b = OpenReplica("b");
  const uint64_t read = a->snapshot()->revision();
  ASSERT_THAT(a->PutNodeAsOf(Node("civil/registry", "Civil status"), read), IsOk());
  EXPECT_THAT(b->PutNodeAsOf(Node("tax/core", "Tax"), read), IsOk());
}

TEST_F(EtcdRegistryTest, ARestartedReplicaCatchesUpFromItsOwnRevision) {
  std::unique_ptr<Registry> a = OpenReplica("a");
  std::unique_ptr<Registry> b = OpenReplica("b");
  ASSERT_THAT(a->PutNode(Node("civil/registry", "Civil status")), IsOk());
  ASSERT_TRUE(WaitFor([&] { return b->snapshot()->FindNode("civil/registry") != nullptr; }));
  b.reset();
  ASSERT_THAT(a->PutNode(Node("tax/core", "Tax")), IsOk());
  absl::StatusOr<uint64_t> last = a->PutNode(Node("civil/registry", "Civil status, renamed"));
  ASSERT_THAT(last, IsOk());
  b = OpenReplica("b");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(WaitFor([&] { return b->snapshot()->revision() == *last; }));
  EXPECT_NE(b->snapshot()->FindNode("tax/core"), nullptr);
  EXPECT_EQ(b->snapshot()->FindNode("civil/registry")->display_name(), "Civil status, renamed");
}

TEST_F(EtcdRegistryTest, ACopyBehindACompactionIsReadWholeAgain) {
  std::unique_ptr<Registry> a = OpenReplica("a");
  std::unique_ptr<Registry> b = OpenReplica("b");
  ASSERT_THAT(a->PutNode(Node("civil/registry", "Civil status")), IsOk());
  ASSERT_TRUE(WaitFor([&] { return b->snapshot()->FindNode("civil/registry") != nullptr; }));
  b.reset();
  ASSERT_THAT(a->PutNode(Node("tax/core", "Tax")), IsOk());
  absl::StatusOr<uint64_t> last = a->PutNode(Node("civil/registry", "Civil status, renamed"));
  ASSERT_THAT(last, IsOk());
  // etcd forgets the changes b missed, as its periodic compaction does in production.
  const crypto::TlsFilePaths& tls = etcd_->client_tls();
  const std::string compact =
      absl::StrCat("ETCDCTL_API=3 etcdctl --endpoints=https://", etcd_->endpoints().front(),
                   " --cacert=", tls.ca_file, " --cert=", tls.cert_file, " --key=", tls.key_file,
                   " compact ", *last, " >/dev/null");
  ASSERT_EQ(std::system(compact.c_str()), 0) << compact;
  b = OpenReplica("b");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(WaitFor([&] { return b->snapshot()->revision() == *last; }));
  EXPECT_NE(b->snapshot()->FindNode("tax/core"), nullptr);
  EXPECT_EQ(b->snapshot()->FindNode("civil/registry")->display_name(), "Civil status, renamed");
  EXPECT_THAT(b->CheckFresh(), IsOk());
}

TEST_F(EtcdRegistryTest, AReplicaCutFromEtcdRefusesAfterTheBoundAndRecovers) {
  std::unique_ptr<Registry> a = OpenReplica("a", absl::Seconds(1));
  ASSERT_THAT(a->PutNode(Node("civil/registry", "Civil status")), IsOk());
  etcd_->StopAll();
  // Within the bound it keeps deciding from its snapshot.
  EXPECT_THAT(a->CheckFresh(), IsOk());
  EXPECT_TRUE(WaitFor([&] { return !a->CheckFresh().ok(); }));
  EXPECT_THAT(a->CheckFresh(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("has not confirmed its registry current with etcd")));
  EXPECT_NE(a->snapshot()->FindNode("civil/registry"), nullptr);
  EXPECT_THAT(a->PutNode(Node("tax/core", "Tax")), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_THAT(etcd_->StartAll(), IsOk());
  EXPECT_TRUE(WaitFor([&] { return a->CheckFresh().ok(); }, absl::Seconds(20)));
  EXPECT_THAT(a->PutNode(Node("tax/core", "Tax")), IsOk());
}

TEST_F(EtcdRegistryTest, ADatasetWhoseSchemaDoesNotLoadIsNotStored) {
  std::unique_ptr<Registry> a = OpenReplica("a");
  v1::Dataset dataset;
  dataset.set_id(kDataset);
  dataset.set_message_type("civil.Birth");
  EXPECT_THAT(a->PutDataset(dataset), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(a->snapshot()->FindDataset(kDataset), nullptr);
}

TEST_F(EtcdRegistryTest, OpeningWithoutEtcdFailsAfterItsTimeout) {
  etcd_->StopAll();
  EtcdRegistryOptions options;
  options.etcd = client_.get();
  options.dir = dir_.Join("alone");
  options.start_timeout = absl::Seconds(1);
  EXPECT_THAT(OpenEtcdRegistry(options),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("did not bring the registry copy up to date")));
}

}  // namespace
}  // namespace ndx::registry::testing
