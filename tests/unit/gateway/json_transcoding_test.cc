#include "gateway/json_transcoding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/schema.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "testing/resident_schema.h"
#include "testing/status_matchers.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::IsOkAndHolds;
using ::ndx::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(HttpStatusFromCodeTest, MapsAsGrpcJsonTranscodersDo) {
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kOk), 200);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kCancelled), 499);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kUnknown), 500);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kFailedPrecondition), 400);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kAborted), 409);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kOutOfRange), 400);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kDataLoss), 500);
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kUnauthenticated), 401);
}

TEST(ParseBodyTest, TakesTheDatasetFromThePathAndBothSpellingsOfNames) {
  absl::StatusOr<v1::GetRequest> get = ParseGetBody(
      "mops/residents", R"({"key": "001090000001", "purpose": "p", "fields": ["full_name"]})");
  ASSERT_THAT(get.status(), IsOk());
  EXPECT_EQ(get->dataset(), "mops/residents");
  EXPECT_EQ(get->key(), "001090000001");
  EXPECT_THAT(get->fields(), ElementsAre("full_name"));

  absl::StatusOr<v1::QueryRequest> query =
      ParseQueryBody("mops/residents", R"({"filters": [{"field": "province", "value": "hanoi"}],
                                          "purpose": "p", "pageSize": 5, "page_token": "t"})");
  ASSERT_THAT(query.status(), IsOk());
  EXPECT_EQ(query->page_size(), 5);
  EXPECT_EQ(query->page_token(), "t");
  ASSERT_EQ(query->filters_size(), 1);
  EXPECT_EQ(query->filters(0).value(), "hanoi");
}

TEST(ParseBodyTest, RefusesWhatIsNotARequestWithoutRepeatingValues) {
  for (const char* body : {R"({"key": "001090000001", "colour": "blue"})", R"({"key": 1090000001})",
                           R"(["001090000001"])", "001090000001", ""}) {
    absl::StatusOr<v1::GetRequest> parsed = ParseGetBody("mops/residents", body);
    EXPECT_THAT(parsed.status(),
                StatusIs(absl::StatusCode::kInvalidArgument, Not(HasSubstr("1090000001"))))
        << body;
    EXPECT_THAT(parsed.status().message(), HasSubstr("\"key\", \"purpose\" and \"fields\""));
  }
  EXPECT_THAT(ParseQueryBody("mops/residents", R"({"dataset": "moj/births"})").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the path names")));
  EXPECT_THAT(ParseQueryBody("mops/residents", R"({"dataset": "mops/residents"})").status(),
              IsOk());
}

TEST(ParseGrpcTimeoutTest, ReadsGrpcsFormat) {
  EXPECT_THAT(ParseGrpcTimeout("250m"), IsOkAndHolds(std::chrono::milliseconds(250)));
  EXPECT_THAT(ParseGrpcTimeout("5S"), IsOkAndHolds(std::chrono::seconds(5)));
  EXPECT_THAT(ParseGrpcTimeout("2M"), IsOkAndHolds(std::chrono::minutes(2)));
  EXPECT_THAT(ParseGrpcTimeout("1H"), IsOkAndHolds(std::chrono::hours(1)));
  EXPECT_THAT(ParseGrpcTimeout("99999999u"), IsOkAndHolds(std::chrono::microseconds(99999999)));
  EXPECT_THAT(ParseGrpcTimeout("7n"), IsOkAndHolds(std::chrono::nanoseconds(7)));
  for (const char* bad : {"", "S", "5", "5s", "-5S", "123456789S", "5 S", "1.5S"}) {
    EXPECT_THAT(ParseGrpcTimeout(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

class ResponseJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<google::protobuf::FileDescriptorSet> files =
        CompileProtoFile("resident.proto", ndx::testing::kResidentProto);
    ASSERT_THAT(files.status(), IsOk());
    for (const google::protobuf::FileDescriptorProto& file : files->file()) {
      ASSERT_NE(pool_.BuildFile(file), nullptr);
    }
    schema_ = pool_.FindMessageTypeByName("population.v1.Resident");
    ASSERT_NE(schema_, nullptr);
  }

  google::protobuf::Any Record(const std::string& name, int64_t household) {
    std::unique_ptr<google::protobuf::Message> message(factory_.GetPrototype(schema_)->New());
    const google::protobuf::Reflection* reflection = message->GetReflection();
    reflection->SetString(message.get(), schema_->FindFieldByName("full_name"), name);
    reflection->SetInt64(message.get(), schema_->FindFieldByName("household_size"), household);
    google::protobuf::Any any;
    any.set_type_url("type.googleapis.com/population.v1.Resident");
    any.set_value(message->SerializeAsString());
    return any;
  }

  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_;
  const google::protobuf::Descriptor* schema_ = nullptr;
};

TEST_F(ResponseJsonTest, WritesRecordsWithTheSchemasFieldNames) {
  v1::GetResponse get;
  *get.mutable_record() = Record("Nguyen Van An", 4);
  get.add_fields("full_name");
  get.add_fields("household_size");
  get.set_request_id("r1");
  absl::StatusOr<std::string> json = GetResponseJson(get, *schema_);
  ASSERT_THAT(json.status(), IsOk());
  // int64 is a JSON string in protobuf's mapping, so that no value loses precision.
  EXPECT_EQ(nlohmann::json::parse(*json),
            nlohmann::json::parse(R"({"record": {"full_name": "Nguyen Van An",
                                                 "household_size": "4"},
                                      "fields": ["full_name", "household_size"],
                                      "request_id": "r1"})"));

  v1::QueryResponse query;
  *query.add_records() = Record("A", 1);
  *query.add_records() = Record("B", 2);
  query.set_next_page_token("next");
  absl::StatusOr<std::string> page = QueryResponseJson(query, *schema_);
  ASSERT_THAT(page.status(), IsOk());
  nlohmann::json parsed = nlohmann::json::parse(*page);
  EXPECT_EQ(parsed["records"][1]["full_name"], "B");
  EXPECT_EQ(parsed["next_page_token"], "next");
}

TEST_F(ResponseJsonTest, ARecordThatIsNotOfTheSchemaIsAnInternalError) {
  v1::GetResponse get;
  get.mutable_record()->set_value("\xff\xff\xff");
  EXPECT_THAT(GetResponseJson(get, *schema_).status(),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("population.v1.Resident")));
}

}  // namespace
}  // namespace ndx::gateway
