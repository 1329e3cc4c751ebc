#include "cli/parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace ndx::cli {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseNodeKindTest, AcceptsTheThreeKinds) {
  EXPECT_EQ(*ParseNodeKind("ministry"), v1::NODE_KIND_MINISTRY);
  EXPECT_EQ(*ParseNodeKind("province"), v1::NODE_KIND_PROVINCE);
  EXPECT_EQ(*ParseNodeKind("other"), v1::NODE_KIND_OTHER);
}

TEST(ParseNodeKindTest, RefusesOthersAndListsTheChoices) {
  EXPECT_THAT(ParseNodeKind("Ministry"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"Ministry\" is not one of ministry, province, other")));
  EXPECT_THAT(ParseNodeKind(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseNodeKind("NODE_KIND_MINISTRY"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseRoleTest, OperatorAndAuditor) {
  EXPECT_EQ(*ParseRole("operator"), v1::ROLE_OPERATOR);
  EXPECT_EQ(*ParseRole("auditor"), v1::ROLE_AUDITOR);
  EXPECT_THAT(ParseRole("admin"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("operator, auditor")));
}

TEST(ParseGrantStateTest, ThreeStates) {
  EXPECT_EQ(*ParseGrantState("requested"), v1::GRANT_STATE_REQUESTED);
  EXPECT_EQ(*ParseGrantState("approved"), v1::GRANT_STATE_APPROVED);
  EXPECT_EQ(*ParseGrantState("revoked"), v1::GRANT_STATE_REVOKED);
  EXPECT_THAT(ParseGrantState("expired"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseFieldClassTest, Assignment) {
  auto parsed = ParseFieldClassAssignment("citizen_id=sensitive");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->first, "citizen_id");
  EXPECT_EQ(parsed->second, v1::FIELD_CLASS_SENSITIVE);
  EXPECT_EQ(ParseFieldClassAssignment("province=open")->second, v1::FIELD_CLASS_OPEN);
  EXPECT_EQ(ParseFieldClassAssignment("a=internal")->second, v1::FIELD_CLASS_INTERNAL);
  EXPECT_EQ(ParseFieldClassAssignment("a=personal")->second, v1::FIELD_CLASS_PERSONAL);
}

TEST(ParseFieldClassTest, RefusesBadAssignments) {
  EXPECT_THAT(ParseFieldClassAssignment("citizen_id"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not FIELD=CLASS")));
  EXPECT_THAT(ParseFieldClassAssignment("citizen_id=secret"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"secret\" is not one of open, internal, personal, sensitive")));
  EXPECT_THAT(ParseFieldClassAssignment("=open"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field name")));
  EXPECT_THAT(ParseFieldClassAssignment("full name=open"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseWhereTest, SplitsAtTheFirstEquals) {
  auto filter = ParseWhere("province=hanoi");
  ASSERT_THAT(filter, IsOk());
  EXPECT_EQ(filter->field(), "province");
  EXPECT_EQ(filter->value(), "hanoi");

  filter = ParseWhere("note=a=b");
  ASSERT_THAT(filter, IsOk());
  EXPECT_EQ(filter->field(), "note");
  EXPECT_EQ(filter->value(), "a=b");

  filter = ParseWhere("address=");
  ASSERT_THAT(filter, IsOk());
  EXPECT_EQ(filter->value(), "");
}

TEST(ParseWhereTest, RefusesAFilterWithoutEquals) {
  EXPECT_THAT(ParseWhere("province"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not FIELD=VALUE")));
  EXPECT_THAT(ParseWhere("=hanoi"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseWhere("1st=x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseRfc3339Test, AcceptsUtcAndOffsets) {
  auto utc = ParseRfc3339("2026-12-31T23:59:59Z");
  ASSERT_THAT(utc, IsOk());
  EXPECT_EQ(absl::ToUnixSeconds(*utc), 1798761599);
  auto hanoi = ParseRfc3339("2027-01-01T06:59:59+07:00");
  ASSERT_THAT(hanoi, IsOk());
  EXPECT_EQ(*hanoi, *utc);
  EXPECT_THAT(ParseRfc3339("2026-12-31T23:59:59.5Z"), IsOk());
}

TEST(ParseRfc3339Test, RefusesOtherShapes) {
  for (const char* text : {"2026-12-31", "2026-12-31 23:59:59", "2026-12-31T23:59:59", "31/12/2026",
                           "tomorrow", "", "2026-13-01T00:00:00Z"}) {
    EXPECT_THAT(ParseRfc3339(text),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not an RFC 3339")))
        << text;
  }
}

TEST(ValidateFieldNameTest, ProtobufIdentifiers) {
  EXPECT_THAT(ValidateFieldName("full_name"), IsOk());
  EXPECT_THAT(ValidateFieldName("_x2"), IsOk());
  EXPECT_THAT(ValidateFieldName(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateFieldName("2x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateFieldName("a-b"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(EnumNamesTest, ShortLowerCaseNames) {
  EXPECT_EQ(NodeKindName(v1::NODE_KIND_PROVINCE), "province");
  EXPECT_EQ(NodeKindName(v1::NODE_KIND_UNSPECIFIED), "-");
  EXPECT_EQ(RoleName(v1::ROLE_AUDITOR), "auditor");
  EXPECT_EQ(NodeStateName(v1::NODE_STATE_SUSPENDED), "suspended");
  EXPECT_EQ(GrantStateName(v1::GRANT_STATE_APPROVED), "approved");
  EXPECT_EQ(FieldClassName(v1::FIELD_CLASS_SENSITIVE), "sensitive");
  // A value from a newer gateway shows as its number.
  EXPECT_EQ(GrantStateName(static_cast<v1::GrantState>(42)), "42");
}

}  // namespace
}  // namespace ndx::cli
