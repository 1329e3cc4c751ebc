#include "registry/registry_copy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "registry/stored_records.h"
#include "registry_test_util.h"

namespace ndx::registry::testing {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

StoredChange NodeRecord(const std::string& id, const std::string& display_name) {
  v1::Node node;
  node.set_id(id);
  node.set_display_name(display_name);
  node.set_state(v1::NODE_STATE_ACTIVE);
  return {internal::NodeKey(id), node.SerializeAsString()};
}

StoredChange GrantRecord(const std::string& id) {
  v1::Grant grant;
  grant.set_id(id);
  grant.set_consumer(kConsumer);
  grant.set_dataset(kDataset);
  grant.set_state(v1::GRANT_STATE_APPROVED);
  return {internal::GrantKey(id), grant.SerializeAsString()};
}

class RegistryCopyTest : public ::testing::Test {
 protected:
  std::unique_ptr<RegistryCopy> Open() {
    auto copy = RegistryCopy::Open(dir_.Join("copy"));
    EXPECT_THAT(copy, IsOk());
    return copy.ok() ? *std::move(copy) : nullptr;
  }

  ::ndx::testing::TempDir dir_;
};

TEST_F(RegistryCopyTest, AppliesChangesAtTheSourcesRevisionAndKeepsThemAcrossARestart) {
  {
    std::unique_ptr<RegistryCopy> copy = Open();
    EXPECT_EQ(copy->revision(), 0u);
    ASSERT_THAT(copy->Apply({NodeRecord("a/one", "One"), GrantRecord("g-1")}, 41), IsOk());
    ASSERT_THAT(copy->Apply({NodeRecord("a/one", "One, renamed")}, 57), IsOk());
    EXPECT_EQ(copy->revision(), 57u);
    ASSERT_NE(copy->snapshot()->FindNode("a/one"), nullptr);
    EXPECT_EQ(copy->snapshot()->FindNode("a/one")->display_name(), "One, renamed");
    // Stored grants gain their default operations, as in the single-node registry.
    ASSERT_NE(copy->snapshot()->FindGrant("g-1"), nullptr);
    EXPECT_GT(copy->snapshot()->FindGrant("g-1")->operations_size(), 0);
  }
  std::unique_ptr<RegistryCopy> reopened = Open();
  EXPECT_EQ(reopened->revision(), 57u);
  ASSERT_NE(reopened->snapshot()->FindNode("a/one"), nullptr);
  EXPECT_EQ(reopened->snapshot()->FindNode("a/one")->display_name(), "One, renamed");
  EXPECT_NE(reopened->snapshot()->FindGrant("g-1"), nullptr);
}

TEST_F(RegistryCopyTest, ARecordThatDoesNotParseAppliesNothing) {
  std::unique_ptr<RegistryCopy> copy = Open();
  ASSERT_THAT(copy->Apply({NodeRecord("a/one", "One")}, 3), IsOk());
  StoredChange garbage{internal::GrantKey("g-2"), std::string("\xff\xff\xff", 3)};
  EXPECT_THAT(copy->Apply({NodeRecord("a/two", "Two"), garbage}, 4),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("grant/g-2 does not parse")));
  EXPECT_EQ(copy->revision(), 3u);
  EXPECT_EQ(copy->snapshot()->FindNode("a/two"), nullptr);
  // Nor did it reach the disk.
  copy.reset();
  EXPECT_EQ(Open()->snapshot()->FindNode("a/two"), nullptr);
}

TEST_F(RegistryCopyTest, ARecordWhoseIdIsNotItsKeysIsRefused) {
  std::unique_ptr<RegistryCopy> copy = Open();
  StoredChange moved = NodeRecord("a/one", "One");
  moved.key = internal::NodeKey("a/other");
  EXPECT_THAT(copy->Apply({moved}, 9),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("holds the id \"a/one\"")));
}

TEST_F(RegistryCopyTest, ADeletionRemovesTheRecord) {
  std::unique_ptr<RegistryCopy> copy = Open();
  ASSERT_THAT(copy->Apply({NodeRecord("a/one", "One"), NodeRecord("a/two", "Two")}, 5), IsOk());
  ASSERT_THAT(copy->Apply({{internal::NodeKey("a/one"), std::nullopt}}, 6), IsOk());
  EXPECT_EQ(copy->snapshot()->FindNode("a/one"), nullptr);
  EXPECT_NE(copy->snapshot()->FindNode("a/two"), nullptr);
  EXPECT_EQ(copy->revision(), 6u);
}

TEST_F(RegistryCopyTest, ReplaceDropsWhatTheSourceNoLongerHas) {
  {
    std::unique_ptr<RegistryCopy> copy = Open();
    ASSERT_THAT(copy->Apply({NodeRecord("a/one", "One"), GrantRecord("g-1")}, 5), IsOk());
    ASSERT_THAT(copy->Replace({NodeRecord("a/two", "Two")}, 90), IsOk());
    EXPECT_EQ(copy->revision(), 90u);
    EXPECT_EQ(copy->snapshot()->FindNode("a/one"), nullptr);
    EXPECT_EQ(copy->snapshot()->FindGrant("g-1"), nullptr);
    EXPECT_NE(copy->snapshot()->FindNode("a/two"), nullptr);
  }
  std::unique_ptr<RegistryCopy> reopened = Open();
  EXPECT_EQ(reopened->revision(), 90u);
  EXPECT_EQ(reopened->snapshot()->FindNode("a/one"), nullptr);
  EXPECT_NE(reopened->snapshot()->FindNode("a/two"), nullptr);
}

}  // namespace
}  // namespace ndx::registry::testing
