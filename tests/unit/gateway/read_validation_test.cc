#include "gateway/read_validation.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ReadValidationTest, GetNeedsASaneKey) {
  v1::GetRequest request;
  request.set_key("001");
  EXPECT_THAT(ValidateGetRequest(request), IsOk());
  request.set_key("");
  EXPECT_THAT(ValidateGetRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key is empty")));
  request.set_key(std::string(kMaxKeyBytes + 1, 'k'));
  EXPECT_THAT(ValidateGetRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit")));
  request.set_key("a\nb");
  EXPECT_THAT(ValidateGetRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("control character")));
}

TEST(ReadValidationTest, FieldsMustBeDistinctAndNamed) {
  v1::GetRequest request;
  request.set_key("001");
  request.add_fields("name");
  request.add_fields("name");
  EXPECT_THAT(ValidateGetRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  request.clear_fields();
  request.add_fields("");
  EXPECT_THAT(ValidateGetRequest(request), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ReadValidationTest, QueryFiltersAndPaging) {
  v1::QueryRequest request;
  v1::Filter* filter = request.add_filters();
  filter->set_field("province");
  filter->set_value("hanoi");
  EXPECT_THAT(ValidateQueryRequest(request), IsOk());

  request.add_filters()->set_field("province");
  EXPECT_THAT(ValidateQueryRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filtered twice")));
  request.mutable_filters()->RemoveLast();

  request.add_filters()->set_value("x");
  EXPECT_THAT(ValidateQueryRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no field name")));
  request.mutable_filters()->RemoveLast();

  request.set_page_size(-1);
  EXPECT_THAT(ValidateQueryRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
  request.set_page_size(10);

  for (int i = 0; i < kMaxFilters; ++i) request.add_filters()->set_field("f" + std::to_string(i));
  EXPECT_THAT(ValidateQueryRequest(request),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too many filters")));
}

}  // namespace
}  // namespace ndx::gateway
