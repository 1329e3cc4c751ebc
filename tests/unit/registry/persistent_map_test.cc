#include "registry/persistent_map.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/schema.h"
#include "registry/snapshot_impl.h"
#include "registry_test_util.h"

namespace ndx::registry::internal {
namespace {

using ::ndx::registry::testing::kBirthProto;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Item {
  std::string key;
  int value;
};
struct ItemKey {
  absl::string_view operator()(const Item& item) const { return item.key; }
};
using ItemMap = PersistentMap<absl::string_view, Item, ItemKey>;

std::shared_ptr<const Item> MakeItem(std::string key, int value) {
  return std::make_shared<const Item>(Item{std::move(key), value});
}

TEST(PersistentMapTest, WithLeavesTheOriginalUnchanged) {
  ItemMap empty;
  ItemMap one = empty.With(MakeItem("a", 1));
  ItemMap two = one.With(MakeItem("b", 2));
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.Find("a"), nullptr);
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(one.Find("b"), nullptr);
  ASSERT_NE(two.Find("a"), nullptr);
  EXPECT_EQ(two.Find("a")->value, 1);
  EXPECT_EQ(two.Find("b")->value, 2);
  EXPECT_EQ(two.size(), 2u);
  // The unchanged value is shared, not copied.
  EXPECT_EQ(one.Find("a"), two.Find("a"));
}

TEST(PersistentMapTest, ReplacingKeysTheNewValue) {
  ItemMap replaced;
  {
    ItemMap first = ItemMap().With(MakeItem("key", 1));
    replaced = first.With(MakeItem("key", 2));
    EXPECT_EQ(first.Find("key")->value, 1);
  }
  // The first map and its value are gone; the stored key must view the new value's string
  // (AddressSanitizer builds catch a dangling one).
  EXPECT_EQ(replaced.size(), 1u);
  ASSERT_NE(replaced.Find("key"), nullptr);
  EXPECT_EQ(replaced.Find("key")->value, 2);
  int seen = 0;
  replaced.ForEach([&seen](const Item& item) { seen += item.value; });
  EXPECT_EQ(seen, 2);
}

TEST(PersistentMapTest, Without) {
  ItemMap map = ItemMap().With(MakeItem("a", 1)).With(MakeItem("b", 2));
  ItemMap less = map.Without("a");
  EXPECT_EQ(less.size(), 1u);
  EXPECT_EQ(less.Find("a"), nullptr);
  EXPECT_NE(less.Find("b"), nullptr);
  EXPECT_NE(map.Find("a"), nullptr);
  ItemMap same = less.Without("absent");
  EXPECT_EQ(same.size(), 1u);
  EXPECT_EQ(less.Without("b").size(), 0u);
}

TEST(PersistentMapTest, FromValuesKeepsTheLastOfEachKey) {
  ItemMap map = ItemMap::FromValues({MakeItem("a", 1), MakeItem("b", 2), MakeItem("a", 3)});
  EXPECT_EQ(map.size(), 2u);
  EXPECT_EQ(map.Find("a")->value, 3);
  EXPECT_EQ(map.FindShared("b")->value, 2);
  EXPECT_EQ(map.FindShared("c"), nullptr);
}

TEST(PersistentMapTest, ManyKeysAcrossShards) {
  std::vector<std::shared_ptr<const Item>> items;
  for (int i = 0; i < 5000; ++i) items.push_back(MakeItem(absl::StrCat("g-", i), i));
  ItemMap built = ItemMap::FromValues(items);
  ItemMap grown;
  for (const auto& item : items) grown = grown.With(item);
  EXPECT_EQ(built.size(), 5000u);
  EXPECT_EQ(grown.size(), 5000u);
  std::set<int> seen;
  grown.ForEach([&seen](const Item& item) { seen.insert(item.value); });
  EXPECT_EQ(seen.size(), 5000u);
  for (int i = 0; i < 5000; i += 97) {
    EXPECT_EQ(built.Find(absl::StrCat("g-", i)), grown.Find(absl::StrCat("g-", i)));
  }
  ItemMap changed = grown.With(MakeItem("g-7", -7));
  EXPECT_EQ(changed.Find("g-7")->value, -7);
  EXPECT_EQ(grown.Find("g-7")->value, 7);
  EXPECT_EQ(changed.Find("g-8"), grown.Find("g-8"));
}

v1::Grant MakeGrant(std::string id, std::string consumer, int64_t requested_at) {
  v1::Grant grant;
  grant.set_id(std::move(id));
  grant.set_consumer(std::move(consumer));
  grant.set_dataset("civil/births");
  grant.mutable_requested_at()->set_seconds(requested_at);
  return grant;
}

std::vector<std::string> Ids(absl::Span<const v1::Grant* const> grants) {
  std::vector<std::string> ids;
  for (const v1::Grant* grant : grants) ids.push_back(grant->id());
  return ids;
}

TEST(SnapshotImplTest, GrantsForIsOldestFirst) {
  auto empty = std::make_shared<const SnapshotImpl>();
  auto s1 = empty->WithGrant(std::make_shared<const v1::Grant>(MakeGrant("g-b", "moh/a", 20)), 1);
  auto s2 = s1->WithGrant(std::make_shared<const v1::Grant>(MakeGrant("g-a", "moh/a", 30)), 2);
  auto s3 = s2->WithGrant(std::make_shared<const v1::Grant>(MakeGrant("g-c", "moh/a", 10)), 3);
  auto s4 = s3->WithGrant(std::make_shared<const v1::Grant>(MakeGrant("g-d", "moh/b", 5)), 4);
  EXPECT_THAT(Ids(s4->GrantsFor("moh/a", "civil/births")), ElementsAre("g-c", "g-b", "g-a"));
  EXPECT_THAT(Ids(s4->GrantsFor("moh/b", "civil/births")), ElementsAre("g-d"));
  EXPECT_TRUE(s4->GrantsFor("moh/c", "civil/births").empty());
  EXPECT_TRUE(s4->GrantsFor("moh/a", "civil/deaths").empty());
  EXPECT_THAT(Ids(s2->GrantsFor("moh/a", "civil/births")), ElementsAre("g-b", "g-a"));
  EXPECT_EQ(s4->revision(), 4u);
  EXPECT_THAT(Ids(s4->Grants()), ElementsAre("g-a", "g-b", "g-c", "g-d"));
  // The same grants loaded in one go give the same lists.
  std::vector<std::shared_ptr<const v1::Grant>> copies;
  for (const v1::Grant* grant : s4->Grants()) {
    copies.push_back(std::make_shared<const v1::Grant>(*grant));
  }
  auto built = SnapshotImpl::Build(4, {}, {}, std::move(copies));
  EXPECT_THAT(Ids(built->GrantsFor("moh/a", "civil/births")), ElementsAre("g-c", "g-b", "g-a"));
}

TEST(SnapshotImplTest, ReplacingAGrantUpdatesItsList) {
  auto s1 = std::make_shared<const SnapshotImpl>()->WithGrant(
      std::make_shared<const v1::Grant>(MakeGrant("g-a", "moh/a", 10)), 1);
  v1::Grant approved = MakeGrant("g-a", "moh/a", 10);
  approved.set_state(v1::GRANT_STATE_APPROVED);
  auto s2 = s1->WithGrant(std::make_shared<const v1::Grant>(approved), 2);
  ASSERT_EQ(s2->GrantsFor("moh/a", "civil/births").size(), 1u);
  EXPECT_EQ(s2->GrantsFor("moh/a", "civil/births")[0]->state(), v1::GRANT_STATE_APPROVED);
  EXPECT_EQ(s1->GrantsFor("moh/a", "civil/births")[0]->state(), v1::GRANT_STATE_UNSPECIFIED);
  // The store allows a grant to change consumer; it then leaves its old pair.
  auto s3 = s2->WithGrant(std::make_shared<const v1::Grant>(MakeGrant("g-a", "moh/b", 10)), 3);
  EXPECT_TRUE(s3->GrantsFor("moh/a", "civil/births").empty());
  EXPECT_THAT(Ids(s3->GrantsFor("moh/b", "civil/births")), ElementsAre("g-a"));
  EXPECT_EQ(s3->Grants().size(), 1u);
}

std::shared_ptr<const DatasetEntry> BirthEntry(const std::string& id) {
  v1::Dataset dataset;
  dataset.set_id(id);
  dataset.set_message_type("civil.v1.Birth");
  auto schema = CompileProtoFile("birth.proto", kBirthProto);
  EXPECT_THAT(schema, IsOk());
  *dataset.mutable_schema() = *schema;
  auto entry = MakeDatasetEntry(dataset);
  EXPECT_THAT(entry, IsOk());
  return *entry;
}

TEST(SnapshotImplTest, UnchangedRecordsAreShared) {
  auto node = std::make_shared<const v1::Node>();
  auto s1 = SnapshotImpl::Build(7, {node}, {BirthEntry("civil/births")}, {});
  const DatasetEntry* entry = s1->FindDataset("civil/births");
  ASSERT_NE(entry, nullptr);
  auto s2 = s1->WithGrant(std::make_shared<const v1::Grant>(MakeGrant("g-a", "moh/a", 1)), 8);
  auto s3 = s2->WithDataset(BirthEntry("civil/deaths"), 9);
  v1::Node other;
  other.set_id("moh/a");
  auto s4 = s3->WithNode(std::make_shared<const v1::Node>(other), 10);
  // The same DatasetEntry, hence the same compiled schema, in every later snapshot.
  EXPECT_EQ(s4->FindDataset("civil/births"), entry);
  EXPECT_EQ(s4->FindDataset("civil/births")->schema.get(), entry->schema.get());
  EXPECT_EQ(s4->FindGrant("g-a"), s2->FindGrant("g-a"));
  EXPECT_EQ(s4->FindNode(""), node.get());
  EXPECT_EQ(s1->FindGrant("g-a"), nullptr);
  EXPECT_EQ(s3->FindNode("moh/a"), nullptr);
  EXPECT_EQ(s4->revision(), 10u);
  ASSERT_EQ(s4->Datasets().size(), 2u);
  EXPECT_EQ(s4->Datasets()[0]->dataset.id(), "civil/births");
  EXPECT_EQ(s4->Datasets()[1]->dataset.id(), "civil/deaths");
  ASSERT_EQ(s4->Nodes().size(), 2u);
  EXPECT_EQ(s4->Nodes()[1]->id(), "moh/a");
}

TEST(MakeDatasetEntryTest, DerivesFieldNumbers) {
  auto entry = BirthEntry("civil/births");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->descriptor->full_name(), "civil.v1.Birth");
  EXPECT_EQ(entry->field_numbers.size(), 6u);
  EXPECT_EQ(entry->field_numbers.at("province"), 6);
  EXPECT_EQ(entry->field_numbers.at("registered_at"), 4);
}

TEST(MakeDatasetEntryTest, RefusesAMissingTypeOrABadSchema) {
  v1::Dataset dataset;
  dataset.set_id("civil/births");
  dataset.set_message_type("civil.v1.Marriage");
  *dataset.mutable_schema() = *CompileProtoFile("birth.proto", kBirthProto);
  EXPECT_THAT(MakeDatasetEntry(dataset),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("civil.v1.Marriage")));
  dataset.set_message_type("civil.v1.Birth");
  // The file without the timestamp.proto it imports does not load.
  dataset.mutable_schema()->mutable_file()->DeleteSubrange(0, 1);
  EXPECT_THAT(MakeDatasetEntry(dataset),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("civil/births")));
}

}  // namespace
}  // namespace ndx::registry::internal
