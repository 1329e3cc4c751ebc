#include "registry/rocksdb_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "common/schema.h"
#include "google/protobuf/util/message_differencer.h"
#include "registry_test_util.h"

namespace ndx::registry::testing {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::Node MakeNode(const std::string& id) {
  v1::Node node;
  node.set_id(id);
  node.set_display_name("Population register");
  node.set_kind(v1::NODE_KIND_MINISTRY);
  node.set_adapter_endpoint("127.0.0.1:7443");
  node.set_state(v1::NODE_STATE_ACTIVE);
  return node;
}

v1::Dataset MakeDataset(const std::string& id, const std::string& message_type) {
  v1::Dataset dataset;
  dataset.set_id(id);
  dataset.set_owner("civil/registry");
  dataset.set_message_type(message_type);
  dataset.set_key_field("birth_id");
  dataset.set_schema_version(1);
  auto schema = CompileProtoFile("birth.proto", kBirthProto);
  EXPECT_THAT(schema, IsOk());
  *dataset.mutable_schema() = *schema;
  return dataset;
}

v1::Grant MakeGrant(const std::string& id) {
  v1::Grant grant;
  grant.set_id(id);
  grant.set_consumer("moh/insurance");
  grant.set_dataset("civil/births");
  grant.add_fields("birth_id");
  grant.add_purposes("health-insurance");
  grant.set_state(v1::GRANT_STATE_APPROVED);
  grant.add_operations(v1::OPERATION_READ);
  return grant;
}

class RocksDbRegistryTest : public ::testing::Test {
 protected:
  std::unique_ptr<Registry> Open() {
    auto registry = OpenRocksDbRegistry(dir_.Join("db"));
    EXPECT_THAT(registry, IsOk());
    return registry.ok() ? *std::move(registry) : nullptr;
  }

  ndx::testing::TempDir dir_;
};

TEST_F(RocksDbRegistryTest, EmptyRegistryIsAtRevisionZero) {
  auto registry = Open();
  ASSERT_NE(registry, nullptr);
  std::shared_ptr<const Snapshot> snapshot = registry->snapshot();
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(snapshot->revision(), 0u);
  EXPECT_TRUE(snapshot->Nodes().empty());
  EXPECT_TRUE(snapshot->Datasets().empty());
  EXPECT_TRUE(snapshot->Grants().empty());
  EXPECT_EQ(snapshot->FindNode("civil/registry"), nullptr);
}

TEST_F(RocksDbRegistryTest, PersistsAcrossReopenWithTheRevision) {
  {
    auto registry = Open();
    ASSERT_NE(registry, nullptr);
    EXPECT_THAT(registry->PutNode(MakeNode("civil/registry")), IsOkAndHolds(1u));
    EXPECT_THAT(registry->PutDataset(MakeDataset("civil/births", "civil.v1.Birth")),
                IsOkAndHolds(2u));
    EXPECT_THAT(registry->PutGrant(MakeGrant("g-1")), IsOkAndHolds(3u));
    v1::Node renamed = MakeNode("civil/registry");
    renamed.set_display_name("Civil status");
    EXPECT_THAT(registry->PutNode(renamed), IsOkAndHolds(4u));
  }
  auto registry = Open();
  ASSERT_NE(registry, nullptr);
  std::shared_ptr<const Snapshot> snapshot = registry->snapshot();
  EXPECT_EQ(snapshot->revision(), 4u);
  ASSERT_NE(snapshot->FindNode("civil/registry"), nullptr);
  EXPECT_EQ(snapshot->FindNode("civil/registry")->display_name(), "Civil status");
  EXPECT_EQ(snapshot->Nodes().size(), 1u);
  const DatasetEntry* entry = snapshot->FindDataset("civil/births");
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(
      MessageDifferencer::Equals(entry->dataset, MakeDataset("civil/births", "civil.v1.Birth")));
  ASSERT_NE(entry->descriptor, nullptr);
  EXPECT_EQ(entry->descriptor->full_name(), "civil.v1.Birth");
  EXPECT_EQ(entry->field_numbers.at("mother_id"), 3);
  ASSERT_NE(snapshot->FindGrant("g-1"), nullptr);
  EXPECT_TRUE(MessageDifferencer::Equals(*snapshot->FindGrant("g-1"), MakeGrant("g-1")));
  ASSERT_EQ(snapshot->GrantsFor("moh/insurance", "civil/births").size(), 1u);
  // Counting goes on from the stored revision.
  EXPECT_THAT(registry->PutGrant(MakeGrant("g-2")), IsOkAndHolds(5u));
  EXPECT_EQ(registry->snapshot()->revision(), 5u);
}

TEST_F(RocksDbRegistryTest, GrantWithoutOperationsAllowsTheDefaultOnes) {
  v1::Grant old = MakeGrant("g-1");
  old.clear_operations();
  {
    auto registry = Open();
    ASSERT_NE(registry, nullptr);
    ASSERT_THAT(registry->PutGrant(old), IsOk());
    EXPECT_THAT(registry->snapshot()->FindGrant("g-1")->operations(),
                ElementsAre(v1::OPERATION_READ, v1::OPERATION_QUERY, v1::OPERATION_SUBSCRIBE));
  }
  auto registry = Open();
  ASSERT_NE(registry, nullptr);
  EXPECT_THAT(registry->snapshot()->FindGrant("g-1")->operations(),
              ElementsAre(v1::OPERATION_READ, v1::OPERATION_QUERY, v1::OPERATION_SUBSCRIBE));
}

TEST_F(RocksDbRegistryTest, NewSnapshotIsVisibleAtOnceAndTheOldOneIsUnchanged) {
  auto registry = Open();
  ASSERT_NE(registry, nullptr);
  ASSERT_THAT(registry->PutNode(MakeNode("civil/registry")), IsOk());
  std::shared_ptr<const Snapshot> before = registry->snapshot();
  // No change, no new snapshot.
  EXPECT_EQ(registry->snapshot(), before);

  v1::Node suspended = MakeNode("civil/registry");
  suspended.set_state(v1::NODE_STATE_SUSPENDED);
  ASSERT_THAT(registry->PutNode(suspended), IsOk());
  ASSERT_THAT(registry->PutGrant(MakeGrant("g-1")), IsOk());
  std::shared_ptr<const Snapshot> after = registry->snapshot();
  EXPECT_NE(after, before);
  EXPECT_EQ(after->revision(), 3u);
  EXPECT_EQ(after->FindNode("civil/registry")->state(), v1::NODE_STATE_SUSPENDED);
  EXPECT_NE(after->FindGrant("g-1"), nullptr);

  EXPECT_EQ(before->revision(), 1u);
  EXPECT_EQ(before->FindNode("civil/registry")->state(), v1::NODE_STATE_ACTIVE);
  EXPECT_EQ(before->FindGrant("g-1"), nullptr);
  EXPECT_TRUE(before->GrantsFor("moh/insurance", "civil/births").empty());
}

TEST_F(RocksDbRegistryTest, UnchangedDatasetKeepsItsCompiledSchema) {
  auto registry = Open();
  ASSERT_NE(registry, nullptr);
  ASSERT_THAT(registry->PutDataset(MakeDataset("civil/births", "civil.v1.Birth")), IsOk());
  const DatasetEntry* entry = registry->snapshot()->FindDataset("civil/births");
  std::shared_ptr<const Snapshot> keep = registry->snapshot();
  ASSERT_THAT(registry->PutGrant(MakeGrant("g-1")), IsOk());
  ASSERT_THAT(registry->PutNode(MakeNode("moh/insurance")), IsOk());
  ASSERT_THAT(registry->PutDataset(MakeDataset("civil/deaths", "civil.v1.Death")), IsOk());
  EXPECT_EQ(registry->snapshot()->FindDataset("civil/births"), entry);
}

TEST_F(RocksDbRegistryTest, DatasetWhoseSchemaDoesNotLoadIsRefused) {
  auto registry = Open();
  ASSERT_NE(registry, nullptr);
  EXPECT_THAT(registry->PutDataset(MakeDataset("civil/births", "civil.v1.Marriage")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("civil.v1.Marriage")));
  v1::Dataset broken = MakeDataset("civil/births", "civil.v1.Birth");
  broken.mutable_schema()->mutable_file()->DeleteSubrange(0, 1);  // drop timestamp.proto
  EXPECT_THAT(registry->PutDataset(broken),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid schema")));
  EXPECT_EQ(registry->snapshot()->revision(), 0u);
  EXPECT_EQ(registry->snapshot()->FindDataset("civil/births"), nullptr);
  registry.reset();
  registry = Open();
  ASSERT_NE(registry, nullptr);
  EXPECT_EQ(registry->snapshot()->FindDataset("civil/births"), nullptr);
  EXPECT_EQ(registry->snapshot()->revision(), 0u);
}

TEST_F(RocksDbRegistryTest, EmptyIdsAreRefused) {
  auto registry = Open();
  ASSERT_NE(registry, nullptr);
  EXPECT_THAT(registry->PutNode(v1::Node()), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(registry->PutDataset(v1::Dataset()), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(registry->PutGrant(v1::Grant()), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(registry->snapshot()->revision(), 0u);
}

TEST_F(RocksDbRegistryTest, SecondOpenIsUnavailableAndNamesTheDirectory) {
  auto registry = Open();
  ASSERT_NE(registry, nullptr);
  EXPECT_THAT(OpenRocksDbRegistry(dir_.Join("db")),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(dir_.Join("db"))));
}

TEST_F(RocksDbRegistryTest, CreatesMissingParentDirectories) {
  auto registry = OpenRocksDbRegistry(dir_.Join("var/lib/ndx/registry"));
  ASSERT_THAT(registry, IsOk());
  EXPECT_THAT((*registry)->PutNode(MakeNode("civil/registry")), IsOkAndHolds(1u));
}

TEST_F(RocksDbRegistryTest, UnusableDirectoryIsAnError) {
  std::string file = dir_.Join("file");
  std::ofstream(file) << "not a directory";
  auto registry = OpenRocksDbRegistry(file + "/db");
  EXPECT_FALSE(registry.ok());
  EXPECT_THAT(registry.status().message(), HasSubstr(file));
}

}  // namespace
}  // namespace ndx::registry::testing
