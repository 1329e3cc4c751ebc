#include "common/schema.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace ndx {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kBirth[] = R"(syntax = "proto3";
package civil.v1;
import "google/protobuf/timestamp.proto";
message Birth {
  string birth_id = 1;
  string child_name = 2;
  google.protobuf.Timestamp registered_at = 3;
}
)";

TEST(SchemaTest, CompilesAndLoadsWithWellKnownImports) {
  auto set = CompileProtoFile("birth.proto", kBirth);
  ASSERT_THAT(set, IsOk());
  EXPECT_EQ(set->file_size(), 2);
  auto schema = Schema::Load(*set);
  ASSERT_THAT(schema, IsOk());
  auto descriptor = (*schema)->FindMessage("civil.v1.Birth");
  ASSERT_THAT(descriptor, IsOk());
  EXPECT_EQ((*descriptor)->field_count(), 3);
  EXPECT_NE((*schema)->NewMessage(*descriptor), nullptr);
  EXPECT_THAT((*schema)->FindMessage("civil.v1.Death"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(SchemaTest, SyntaxErrorNamesTheLine) {
  EXPECT_THAT(
      CompileProtoFile("bad.proto", "syntax = \"proto3\";\nmessage A {\n  string x = 1\n}\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.proto:4:")));
}

TEST(SchemaTest, UnknownTypeIsRefused) {
  EXPECT_THAT(CompileProtoFile("bad.proto", "syntax = \"proto3\";\nmessage A { Missing x = 1; }\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.proto:2:")));
}

TEST(SchemaTest, ForeignImportIsRefused) {
  EXPECT_THAT(CompileProtoFile("a.proto", "syntax = \"proto3\";\nimport \"other.proto\";\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("other.proto")));
}

}  // namespace
}  // namespace ndx
