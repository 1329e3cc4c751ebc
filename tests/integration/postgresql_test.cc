// The population register served from PostgreSQL: a consumer reads through the gateway what the
// owner's PostgreSQL database holds, with the same grant, projection and paging as from SQLite.

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "integration/federation.h"
#include "integration/resident_record.h"
#include "testing/postgres_server.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr char kPurpose[] = "health-insurance-enrolment";

class PostgresqlFederationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = PostgresServer::Unavailable(); !why.empty()) GTEST_SKIP() << why;
    absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::Start();
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    ASSERT_THAT(server_->Exec("CREATE DATABASE population"), IsOk());
    ASSERT_THAT(server_->Exec(kPopulationSql, "population"), IsOk());
    federation_.UsePopulationBackend(absl::StrCat("postgresql { connection: \"",
                                                  server_->ConnectionString("population"),
                                                  "\" max_connections: 4 }"));
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    ASSERT_THAT(federation_.StartGateway(), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
    ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents,
                                  {"citizen_id", "full_name", "province"}, {kPurpose}),
                IsOk());
  }

  std::unique_ptr<PostgresServer> server_;
  Federation federation_;
};

TEST_F(PostgresqlFederationTest, AGrantedReadReturnsWhatTheDatabaseHoldsNow) {
  auto exchange = federation_.ExchangeAs(kInsuranceNode);
  v1::GetResponse response;
  grpc::Status status = GetResident(*exchange, "001090000001", kPurpose, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, std::string> values;
  EXPECT_THAT(ResidentFields(response.record(), &values),
              UnorderedElementsAre("citizen_id", "full_name", "province"));
  EXPECT_EQ(values["full_name"], "Nguyen Van An");

  // The owner keeps its data: a change in its database is what the next read returns.
  ASSERT_THAT(server_->Exec("UPDATE residents SET full_name = 'Nguyen Van Anh' WHERE citizen_id "
                            "= '001090000001'",
                            "population"),
              IsOk());
  status = GetResident(*exchange, "001090000001", kPurpose, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ResidentFields(response.record(), &values);
  EXPECT_EQ(values["full_name"], "Nguyen Van Anh");

  status = GetResident(*exchange, "001099999999", kPurpose, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
}

TEST_F(PostgresqlFederationTest, AQueryPagesThroughTheTable) {
  auto exchange = federation_.ExchangeAs(kInsuranceNode);
  v1::QueryRequest request;
  request.set_dataset(kResidents);
  request.set_purpose(kPurpose);
  v1::Filter* filter = request.add_filters();
  filter->set_field("province");
  filter->set_value("hanoi");
  request.set_page_size(2);
  std::vector<std::string> names;
  int pages = 0;
  do {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::QueryResponse response;
    grpc::Status status = exchange->Query(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const auto& record : response.records()) {
      std::map<std::string, std::string> values;
      ResidentFields(record, &values);
      names.push_back(values["full_name"]);
    }
    request.set_page_token(response.next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 5);
  EXPECT_EQ(pages, 2);
  EXPECT_THAT(names, ElementsAre("Nguyen Van An", "Tran Thi Binh", "Pham Thi Dung"));
}

}  // namespace
}  // namespace ndx::testing
