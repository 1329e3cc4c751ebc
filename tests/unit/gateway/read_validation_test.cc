#include "gateway/read_validation.h"

#include <gtest/gtest.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/schema.h"
#include "testing/status_matchers.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

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

class FieldValueValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<google::protobuf::FileDescriptorSet> set = CompileProtoFile("r.proto", R"(
syntax = "proto3";
package r.v1;
message Resident {
  string citizen_id = 1;
  int32 household_size = 2;
  repeated string phones = 3;
  repeated int32 children_born = 4;
  map<string, string> labels = 5;
}
)");
    ASSERT_THAT(set, IsOk());
    absl::StatusOr<std::shared_ptr<const Schema>> schema = Schema::Load(*set);
    ASSERT_THAT(schema, IsOk());
    schema_ = *schema;
    absl::StatusOr<const google::protobuf::Descriptor*> message =
        schema_->FindMessage("r.v1.Resident");
    ASSERT_THAT(message, IsOk());
    message_ = *message;
  }

  std::shared_ptr<const Schema> schema_;
  const google::protobuf::Descriptor* message_ = nullptr;
};

TEST_F(FieldValueValidationTest, ValuesMustConvertToTheirFieldsType) {
  EXPECT_THAT(ValidateFieldValue(*message_, "household_size", "4", "filter"), IsOk());
  EXPECT_THAT(ValidateFieldValue(*message_, "household_size", "four 0790", "filter"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("filter: field \"household_size\" expects int32"),
                             Not(HasSubstr("0790")))));
  // What the gateway cannot judge is left to the authorizer and the adapter.
  EXPECT_THAT(ValidateFieldValue(*message_, "nickname", "x", "filter"), IsOk());
  EXPECT_THAT(ValidateFieldValue(*message_, "labels", "x", "filter"), IsOk());
}

// A filter holds one value: on a repeated field it is refused before it reaches the adapter,
// whatever the value, which the message leaves out.
TEST_F(FieldValueValidationTest, AFilterOnARepeatedFieldIsRefused) {
  for (const char* field : {"phones", "children_born"}) {
    for (const char* value : {"0912345678", "3"}) {
      absl::Status status = ValidateFieldValue(*message_, field, value, "filter");
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                                   absl::StrCat("filter: field \"", field,
                                                "\" is repeated; a filter compares a single "
                                                "value, so repeated fields cannot be filtered")))
          << field;
    }
  }
}

}  // namespace
}  // namespace ndx::gateway
