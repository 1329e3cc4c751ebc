#include "common/ids.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace ndx {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

TEST(IdsTest, NodeIdNeedsTwoLowercaseSegments) {
  EXPECT_THAT(ValidateNodeId("mops/population"), IsOk());
  EXPECT_THAT(ValidateNodeId("moh/insurance-2"), IsOk());
  for (const char* bad : {"", "mops", "mops/", "/population", "Mops/population", "a/b/c", "mops/-x",
                          "mops/po pulation", "mops/population\n"}) {
    EXPECT_THAT(ValidateNodeId(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency/system")))
        << bad;
  }
  EXPECT_THAT(ValidateNodeId(std::string(64, 'a') + "/b"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(IdsTest, AgencyIsTheFirstSegment) { EXPECT_EQ(AgencyOf("civil/births"), "civil"); }

TEST(IdsTest, PurposeAllowsDotsAndUnderscores) {
  EXPECT_THAT(ValidatePurpose("health-insurance.enrolment_2026"), IsOk());
  EXPECT_THAT(ValidatePurpose(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidatePurpose("Tax"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidatePurpose(std::string(129, 'a')), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(IdsTest, TrustDomain) {
  EXPECT_THAT(ValidateTrustDomain("ndx.gov.vn"), IsOk());
  EXPECT_THAT(ValidateTrustDomain("ndx/gov"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace ndx
