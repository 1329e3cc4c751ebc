// End-to-end reads through real ndx-gateway and ndx-adapter processes on 127.0.0.1.

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "integration/federation.h"
#include "integration/resident_record.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kPurpose[] = "health-insurance-enrolment";

grpc::Status Get(Federation& federation, const std::string& caller, const std::string& key,
                 const std::string& purpose, std::vector<std::string> fields = {},
                 v1::GetResponse* response = nullptr, const std::string& dataset = kResidents) {
  v1::GetRequest request;
  request.set_dataset(dataset);
  request.set_key(key);
  request.set_purpose(purpose);
  for (const std::string& field : fields) request.add_fields(field);
  v1::GetResponse ignored;
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  return federation.ExchangeAs(caller)->Get(&context, request,
                                            response != nullptr ? response : &ignored);
}

class ExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    ASSERT_THAT(federation_.StartGateway(), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
  }

  Federation federation_;
};

TEST_F(ExchangeTest, GrantedReadReturnsExactlyTheGrantedFields) {
  ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name", "province"},
                                {kPurpose}),
              IsOk());
  v1::GetResponse response;
  grpc::Status status = Get(federation_, kInsuranceNode, "001090000001", kPurpose, {}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, std::string> values;
  EXPECT_THAT(ResidentFields(response.record(), &values),
              UnorderedElementsAre("citizen_id", "full_name", "province"));
  EXPECT_EQ(values["full_name"], "Nguyen Van An");
  EXPECT_EQ(values["province"], "hanoi");
  EXPECT_THAT(response.fields(), ElementsAre("citizen_id", "full_name", "province"));
  EXPECT_EQ(response.request_id().size(), 32u);

  // A subset of the grant gives exactly that subset.
  status = Get(federation_, kInsuranceNode, "001090000002", kPurpose, {"full_name"}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(ResidentFields(response.record(), &values), ElementsAre("full_name"));
  EXPECT_EQ(values["full_name"], "Tran Thi Binh");

  // The decision log has the allowed read with its fields.
  EXPECT_THAT(federation_.DecisionLog(), HasSubstr(response.request_id()));
}

TEST_F(ExchangeTest, QueryFiltersAndPagesThroughGrantedFields) {
  ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name", "province"},
                                {kPurpose}),
              IsOk());
  auto exchange = federation_.ExchangeAs(kInsuranceNode);
  v1::QueryRequest request;
  request.set_dataset(kResidents);
  request.set_purpose(kPurpose);
  v1::Filter* filter = request.add_filters();
  filter->set_field("province");
  filter->set_value("hanoi");
  request.set_page_size(2);
  std::vector<std::string> names;
  for (int page = 0; page < 3; ++page) {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::QueryResponse response;
    grpc::Status status = exchange->Query(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const auto& record : response.records()) {
      std::map<std::string, std::string> values;
      EXPECT_THAT(ResidentFields(record, &values),
                  UnorderedElementsAre("citizen_id", "full_name", "province"));
      EXPECT_EQ(values["province"], "hanoi");
      names.push_back(values["full_name"]);
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(names, ElementsAre("Nguyen Van An", "Tran Thi Binh", "Pham Thi Dung"));

  // Filtering on a field the grant does not cover would reveal it: refused.
  request.clear_page_token();
  request.mutable_filters(0)->set_field("address");
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::QueryResponse response;
  grpc::Status status = exchange->Query(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("address"));
}

TEST_F(ExchangeTest, RefusesWhatTheGrantDoesNotCover) {
  ASSERT_THAT(
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
      IsOk());
  grpc::Status status = Get(federation_, kInsuranceNode, "001090000001", kPurpose, {"address"});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("address"));

  status = Get(federation_, kInsuranceNode, "001090000001", "tax-assessment");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("tax-assessment"));

  // Another consumer has no grant of its own.
  status = Get(federation_, kCivilNode, "001090000001", kPurpose);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("no grant"));

  // Refusals are in the decision log.
  EXPECT_THAT(federation_.DecisionLog(), HasSubstr("\"decision\":\"deny\""));
  EXPECT_THAT(federation_.DecisionLog(), HasSubstr("tax-assessment"));
}

TEST_F(ExchangeTest, RequestedButUnapprovedGrantIsRefused) {
  ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents, {"citizen_id"}, {kPurpose},
                                absl::Hours(1), /*approve=*/false),
              IsOk());
  grpc::Status status = Get(federation_, kInsuranceNode, "001090000001", kPurpose);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("awaiting approval"));
}

TEST_F(ExchangeTest, ExpiredGrantIsRefused) {
  ASSERT_THAT(
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id"}, {kPurpose}, absl::Seconds(2)),
      IsOk());
  grpc::Status status = Get(federation_, kInsuranceNode, "001090000001", kPurpose);
  ASSERT_TRUE(status.ok()) << status.error_message();
  absl::SleepFor(absl::Seconds(3));
  status = Get(federation_, kInsuranceNode, "001090000001", kPurpose);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("expired"));
}

TEST_F(ExchangeTest, RevocationAppliesToTheNextRequestWithoutRestart) {
  // No grant yet: refused. Approving it is visible to the next request, and so is revoking it.
  EXPECT_EQ(Get(federation_, kInsuranceNode, "001090000001", kPurpose).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto grant = federation_.Grant(kInsuranceNode, kResidents, {"citizen_id"}, {kPurpose});
  ASSERT_THAT(grant, IsOk());
  grpc::Status status = Get(federation_, kInsuranceNode, "001090000001", kPurpose);
  ASSERT_TRUE(status.ok()) << status.error_message();

  absl::StatusOr<v1::Grant> revoked =
      federation_.RevokeGrant(kPopulationNode, grant->id(), "legal basis ended");
  ASSERT_THAT(revoked, IsOk());
  EXPECT_EQ(revoked->state(), v1::GRANT_STATE_REVOKED);

  status = Get(federation_, kInsuranceNode, "001090000001", kPurpose);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("revoked"));
}

TEST_F(ExchangeTest, BadInputGetsAPreciseStatus) {
  ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents, {"citizen_id"}, {kPurpose}), IsOk());
  grpc::Status status =
      Get(federation_, kInsuranceNode, "001090000001", kPurpose, {}, nullptr, "mops/unknown");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("mops/unknown"));

  status = Get(federation_, kInsuranceNode, "001090000001", kPurpose, {}, nullptr, "Residents");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("agency/name"));

  status = Get(federation_, kInsuranceNode, "", kPurpose);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  status = Get(federation_, kInsuranceNode, "001090000001", "Bad Purpose");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  status = Get(federation_, kInsuranceNode, "001090000001", kPurpose, {"no_such_field"});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("no_such_field"));

  status = Get(federation_, kInsuranceNode, "999999999999", kPurpose);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  // A key crafted as SQL reaches the database only as a bound value.
  status = Get(federation_, kInsuranceNode, "' OR '1'='1", kPurpose);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ExchangeTest, OwnersControlOnlyTheirOwnDatasets) {
  auto insurance = federation_.RegistryAs(kInsuranceNode);
  {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::RegisterDatasetRequest request;
    request.set_id("mops/residents-copy");
    request.set_proto_file_name("resident.proto");
    request.set_proto_source(kResidentProto);
    request.set_message_type("population.v1.Resident");
    request.set_key_field("citizen_id");
    v1::Dataset dataset;
    grpc::Status status = insurance->RegisterDataset(&context, request, &dataset);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  }
  auto grant = federation_.Grant(kInsuranceNode, kResidents, {"citizen_id"}, {kPurpose},
                                 absl::Hours(1), /*approve=*/false);
  ASSERT_THAT(grant, IsOk());
  {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::ApproveGrantRequest request;
    request.set_grant_id(grant->id());
    v1::Grant approved;
    grpc::Status status = insurance->ApproveGrant(&context, request, &approved);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  }
  {
    // Registering nodes is the operator's.
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::RegisterNodeRequest request;
    request.mutable_node()->set_id("moh/rogue");
    request.mutable_node()->set_kind(v1::NODE_KIND_OTHER);
    v1::Node node;
    grpc::Status status = insurance->RegisterNode(&context, request, &node);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  }
}

TEST_F(ExchangeTest, InvalidProtoAtRegistrationNamesTheLine) {
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::RegisterDatasetRequest request;
  request.set_id("mops/households");
  request.set_proto_file_name("household.proto");
  request.set_proto_source("syntax = \"proto3\";\nmessage Household {\n  string id = 1\n}\n");
  request.set_message_type("Household");
  request.set_key_field("id");
  v1::Dataset dataset;
  grpc::Status status =
      federation_.RegistryAs(kPopulationNode)->RegisterDataset(&context, request, &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("household.proto:4"));
}

TEST_F(ExchangeTest, GatewayRestartKeepsTheRegistry) {
  ASSERT_THAT(
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
      IsOk());
  ASSERT_TRUE(Get(federation_, kInsuranceNode, "001090000001", kPurpose).ok());
  federation_.StopGateway();
  ASSERT_THAT(federation_.StartGateway(), IsOk());
  v1::GetResponse response;
  grpc::Status status = Get(federation_, kInsuranceNode, "001090000001", kPurpose, {}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(ResidentFields(response.record()), UnorderedElementsAre("citizen_id", "full_name"));
}

TEST_F(ExchangeTest, StoppedAdapterGivesUnavailableBeforeTheDeadline) {
  ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents, {"citizen_id"}, {kPurpose}), IsOk());
  ASSERT_TRUE(Get(federation_, kInsuranceNode, "001090000001", kPurpose).ok());
  federation_.StopPopulationAdapter();

  v1::GetRequest request;
  request.set_dataset(kResidents);
  request.set_key("001090000001");
  request.set_purpose(kPurpose);
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(5));
  v1::GetResponse response;
  grpc::Status status = federation_.ExchangeAs(kInsuranceNode)->Get(&context, request, &response);
  // UNAVAILABLE, not DEADLINE_EXCEEDED: the gateway answered before the caller's deadline.
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr(kPopulationNode));

  // The adapter back on the same port serves again without touching the gateway.
  ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  do {
    status = Get(federation_, kInsuranceNode, "001090000001", kPurpose);
  } while (!status.ok() && absl::Now() < give_up &&
           (absl::SleepFor(absl::Milliseconds(100)), true));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(ExchangeTest, JsonLogLinesDescribeEachCallWithoutItsKey) {
  federation_.SetGatewayFlags({"--log_format", "json", "--log_level", "debug"});
  ASSERT_THAT(federation_.StartGateway(), IsOk());
  ASSERT_THAT(
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
      IsOk());
  v1::GetResponse answered;
  ASSERT_TRUE(Get(federation_, kInsuranceNode, "001090000001", kPurpose, {}, &answered).ok());
  ASSERT_EQ(Get(federation_, kInsuranceNode, "001090000002", "another-purpose").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  federation_.StopGateway();

  // Every line the JSON-format start wrote is one object; the two calls have theirs.
  const std::string log = federation_.GatewayLog();
  const std::string json_part = log.substr(log.find("\n{") + 1);
  int answered_lines = 0;
  int refused_lines = 0;
  for (absl::string_view line : absl::StrSplit(json_part, '\n', absl::SkipEmpty())) {
    const nlohmann::json event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(event.is_discarded()) << line;
    EXPECT_TRUE(event.contains("time") && event.contains("level") && event.contains("message"))
        << line;
    if (event.value("method", "") != "Get") continue;
    EXPECT_EQ(event["caller"], kInsuranceNode);
    EXPECT_EQ(event["dataset"], kResidents);
    EXPECT_EQ(event["request_id"].get<std::string>().size(), 32u);
    EXPECT_TRUE(event["latency_us"].is_number_integer());
    if (event["code"] == "OK") {
      EXPECT_EQ(event["request_id"], answered.request_id());
      ++answered_lines;
    } else {
      EXPECT_EQ(event["code"], "PERMISSION_DENIED");
      ++refused_lines;
    }
  }
  EXPECT_EQ(answered_lines, 1);
  EXPECT_EQ(refused_lines, 1);
  EXPECT_THAT(log, Not(HasSubstr("001090000001")));
  EXPECT_THAT(log, Not(HasSubstr("001090000002")));
}

}  // namespace
}  // namespace ndx::testing
