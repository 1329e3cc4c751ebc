#include "gateway/projection.h"

#include <gtest/gtest.h>

#include "ndx/v1/registry.pb.h"
#include "testing/status_matchers.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;

// ndx.v1.Node is a convenient message with scalar, enum, repeated and nested fields.
v1::Node FullNode() {
  v1::Node node;
  node.set_id("mops/population");                      // 1
  node.set_display_name("Population register");        // 2
  node.set_kind(v1::NODE_KIND_MINISTRY);               // 3
  node.set_adapter_endpoint("127.0.0.1:9000");         // 4
  node.add_roles(v1::ROLE_OPERATOR);                   // 5
  node.add_roles(v1::ROLE_AUDITOR);                    // 5
  node.set_state(v1::NODE_STATE_ACTIVE);               // 6
  node.mutable_created_at()->set_seconds(1700000000);  // 7
  return node;
}

TEST(ProjectionTest, KeepsExactlyTheAllowedFields) {
  std::string wire = FullNode().SerializeAsString();
  auto projected = ProjectFields(wire, {1, 5, 7});
  ASSERT_THAT(projected, IsOk());
  v1::Node node;
  ASSERT_TRUE(node.ParseFromString(*projected));
  EXPECT_EQ(node.id(), "mops/population");
  EXPECT_EQ(node.roles_size(), 2);
  EXPECT_EQ(node.created_at().seconds(), 1700000000);
  EXPECT_TRUE(node.display_name().empty());
  EXPECT_EQ(node.kind(), v1::NODE_KIND_UNSPECIFIED);
  EXPECT_TRUE(node.adapter_endpoint().empty());
  EXPECT_EQ(node.state(), v1::NODE_STATE_UNSPECIFIED);
}

TEST(ProjectionTest, DropsFieldsUnknownToTheSchema) {
  v1::Node node = FullNode();
  node.GetReflection()->MutableUnknownFields(&node)->AddLengthDelimited(99, "smuggled");
  auto projected = ProjectFields(node.SerializeAsString(), {1, 2, 3, 4, 5, 6, 7, 8});
  ASSERT_THAT(projected, IsOk());
  v1::Node parsed;
  ASSERT_TRUE(parsed.ParseFromString(*projected));
  EXPECT_EQ(parsed.GetReflection()->GetUnknownFields(parsed).field_count(), 0);
  EXPECT_EQ(parsed.SerializeAsString(), FullNode().SerializeAsString());
}

TEST(ProjectionTest, EmptyAllowedSetGivesEmptyRecord) {
  auto projected = ProjectFields(FullNode().SerializeAsString(), {});
  ASSERT_THAT(projected, IsOk());
  EXPECT_TRUE(projected->empty());
  EXPECT_THAT(ProjectFields("", {1}), IsOk());
}

TEST(ProjectionTest, MalformedRecordIsInternal) {
  std::string wire = FullNode().SerializeAsString();
  EXPECT_THAT(ProjectFields(wire.substr(0, wire.size() - 3), {1}),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(ProjectFields(std::string("\x0a\x50", 2), {1}),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(ProjectFields(std::string("\x00\x01", 2), {1}),
              StatusIs(absl::StatusCode::kInternal));
  // A lone end-group tag.
  EXPECT_THAT(ProjectFields(std::string("\x0c", 1), {1}), StatusIs(absl::StatusCode::kInternal));
}

TEST(FieldAsTextTest, ReadsStringsAndVarintsWithoutParsing) {
  std::string wire = FullNode().SerializeAsString();
  EXPECT_EQ(*FieldAsText(wire, 1), "mops/population");
  EXPECT_EQ(*FieldAsText(wire, 3), "1");  // NODE_KIND_MINISTRY
  EXPECT_EQ(*FieldAsText(wire, 8), "");   // not set
  v1::Node negative;
  negative.mutable_created_at()->set_seconds(-5);
  // Field 1 of the nested Timestamp, read from its own bytes.
  EXPECT_EQ(*FieldAsText(negative.created_at().SerializeAsString(), 1), "-5");
  EXPECT_THAT(FieldAsText(wire.substr(0, wire.size() - 2), 1),
              StatusIs(absl::StatusCode::kInternal));
}

// Found by fuzz/projection_fuzzer: a record ending in the first byte of a tag was refused by the
// projection but gave its subject to FieldAsText.
TEST(FieldAsTextTest, RefusesWhatTheProjectionRefuses) {
  const std::string wire = FullNode().SerializeAsString();
  for (const std::string& malformed :
       {wire + "\x83", wire + std::string("\x00", 1), wire + "\x02\x01x"}) {
    EXPECT_THAT(ProjectFields(malformed, {1}), StatusIs(absl::StatusCode::kInternal));
    EXPECT_THAT(FieldAsText(malformed, 1), StatusIs(absl::StatusCode::kInternal));
  }
}

}  // namespace
}  // namespace ndx::gateway
