#include "registry/grant_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ndx::registry {
namespace {

using ::testing::ElementsAre;

std::shared_ptr<const v1::Grant> MakeGrant(const std::string& id, int64_t requested_at,
                                           std::vector<std::string> purposes,
                                           std::vector<std::string> fields) {
  auto grant = std::make_shared<v1::Grant>();
  grant->set_id(id);
  grant->set_consumer("moh/insurance");
  grant->set_dataset("civil/births");
  grant->set_state(v1::GRANT_STATE_APPROVED);
  grant->mutable_requested_at()->set_seconds(requested_at);
  grant->mutable_expires_at()->set_seconds(requested_at + 3600);
  for (std::string& purpose : purposes) grant->add_purposes(std::move(purpose));
  for (std::string& field : fields) grant->add_fields(std::move(field));
  return grant;
}

std::vector<std::string> FieldsOf(const GrantSet& set, const GrantTerms& terms) {
  std::vector<std::string> fields;
  set.ForEachField(terms, [&](absl::string_view field) { fields.emplace_back(field); });
  return fields;
}

TEST(GrantSetTest, KeepsTheKeyAndTheGrantsOldestFirst) {
  auto set = GrantSet::Make(
      "moh/insurance", "civil/births",
      {MakeGrant("g-b", 20, {"statistics"}, {"province"}),
       MakeGrant("g-c", 10, {"health"}, {"birth_id"}), MakeGrant("g-a", 20, {"audit"}, {})});
  EXPECT_EQ(set->consumer(), "moh/insurance");
  EXPECT_EQ(set->dataset(), "civil/births");
  std::vector<std::string> ids;
  for (const v1::Grant* grant : set->grants()) ids.push_back(grant->id());
  EXPECT_THAT(ids, ElementsAre("g-c", "g-a", "g-b"));
  ASSERT_EQ(set->terms().size(), 3u);
  ASSERT_EQ(set->owned().size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(set->terms()[i].grant, set->grants()[i]);
    EXPECT_EQ(set->owned()[i].get(), set->grants()[i]);
  }
}

TEST(GrantSetTest, TermsCopyStateExpiryPurposesAndFields) {
  auto revoked = MakeGrant("g-1", 100, {"health", "statistics"}, {"birth_id", "child_name"});
  auto changed = std::make_shared<v1::Grant>(*revoked);
  changed->set_state(v1::GRANT_STATE_REVOKED);
  auto set = GrantSet::Make("moh/insurance", "civil/births", {changed});
  const GrantTerms& terms = set->terms()[0];
  EXPECT_EQ(terms.state, v1::GRANT_STATE_REVOKED);
  EXPECT_EQ(terms.expires_at, absl::FromUnixSeconds(3700));
  EXPECT_TRUE(set->HasPurpose(terms, "health"));
  EXPECT_TRUE(set->HasPurpose(terms, "statistics"));
  EXPECT_FALSE(set->HasPurpose(terms, "birth_id"));
  EXPECT_TRUE(set->HasField(terms, "child_name"));
  EXPECT_FALSE(set->HasField(terms, "health"));
  EXPECT_THAT(FieldsOf(*set, terms), ElementsAre("birth_id", "child_name"));
}

TEST(GrantSetTest, NamesMatchWhole) {
  auto set = GrantSet::Make("moh/insurance", "civil/births",
                            {MakeGrant("g-1", 1, {"health-insurance"}, {"id", "mother_id"})});
  const GrantTerms& terms = set->terms()[0];
  for (const char* near : {"health", "insurance", "health-insurance-x", ""}) {
    EXPECT_FALSE(set->HasPurpose(terms, near)) << near;
  }
  for (const char* near : {"i", "ids", "mother", "_id", "mother_idx"}) {
    EXPECT_FALSE(set->HasField(terms, near)) << near;
  }
  EXPECT_TRUE(set->HasField(terms, "id"));
  EXPECT_TRUE(set->HasField(terms, "mother_id"));
}

// A separator inside a stored name cannot make a shorter name match.
TEST(GrantSetTest, NameWithNulIsOneName) {
  auto set = GrantSet::Make("moh/insurance", "civil/births",
                            {MakeGrant("g-1", 1, {std::string("health\0tax", 10)}, {})});
  const GrantTerms& terms = set->terms()[0];
  EXPECT_FALSE(set->HasPurpose(terms, "health"));
  EXPECT_FALSE(set->HasPurpose(terms, "tax"));
  EXPECT_TRUE(set->HasPurpose(terms, std::string("health\0tax", 10)));
}

TEST(GrantSetTest, GrantWithoutPurposesOrFieldsMatchesNothing) {
  auto set = GrantSet::Make("moh/insurance", "civil/births", {MakeGrant("g-1", 1, {}, {})});
  const GrantTerms& terms = set->terms()[0];
  EXPECT_FALSE(set->HasPurpose(terms, "health"));
  EXPECT_FALSE(set->HasField(terms, "id"));
  EXPECT_TRUE(FieldsOf(*set, terms).empty());
}

}  // namespace
}  // namespace ndx::registry
