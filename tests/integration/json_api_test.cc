// The gateway's REST/JSON face end to end, with curl as the client: a real gateway and adapter,
// the same identities, authorization, projection and audit as the gRPC path.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "integration/federation.h"
#include "ndx/v1/audit.grpc.pb.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPurpose[] = "health-insurance-enrolment";

struct CurlResult {
  // "000" when no HTTP answer came (a refused handshake).
  std::string http_code;
  std::string body;
  std::string headers;

  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};

class JsonApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    federation_.SetGatewayFlags({"--json_api_port_file", federation_.dir().Join("json_api.port")});
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    ASSERT_THAT(federation_.StartGateway(absl::Seconds(2), 0,
                                         "json_api { listen_address: \"127.0.0.1:0\" }\n"),
                IsOk());
    absl::StatusOr<std::string> port = ReadFile(federation_.dir().Join("json_api.port"));
    ASSERT_THAT(port.status(), IsOk());
    json_api_port_ = std::stoi(*port);
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
    ASSERT_THAT(federation_.RegisterAuditor(), IsOk());
    ASSERT_THAT(
        federation_.Grant(kInsuranceNode, kResidents, {"full_name", "birth_date"}, {kPurpose})
            .status(),
        IsOk());
  }

  // curl `path` with `body` (POST, or `method`) as `caller` (no client certificate when empty),
  // verifying the gateway's certificate against the platform CA as any HTTPS client would.
  CurlResult Curl(const std::string& caller, const std::string& path, const std::string& body,
                  const std::string& method = "POST",
                  const std::vector<std::string>& headers = {}) {
    const std::string dir = federation_.dir().Join(absl::StrCat("curl.", ++calls_));
    std::ofstream(dir + ".body") << body;
    std::string command = absl::StrCat("curl -sS --max-time 20 -o ", dir, ".out -D ", dir,
                                       ".headers -w '%{http_code}' --cacert ",
                                       federation_.pki().ca_file(), " -X ", method);
    if (!caller.empty()) {
      crypto::TlsFilePaths files = federation_.pki().Node(caller);
      absl::StrAppend(&command, " --cert ", files.cert_file, " --key ", files.key_file);
    }
    if (method == "POST") {
      absl::StrAppend(&command, " -H 'Content-Type: application/json' --data-binary @", dir,
                      ".body");
    }
    for (const std::string& header : headers) absl::StrAppend(&command, " -H '", header, "'");
    absl::StrAppend(&command, " https://127.0.0.1:", json_api_port_, path, " 2>", dir, ".err");
    CurlResult result;
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[64];
    while (pipe != nullptr && fgets(buffer, sizeof(buffer), pipe) != nullptr) {
      result.http_code += buffer;
    }
    if (pipe != nullptr) pclose(pipe);
    result.body = ReadFile(dir + ".out").value_or("");
    result.headers = ReadFile(dir + ".headers").value_or("");
    return result;
  }

  // The audit entries of `caller`'s reads (not its registry requests).
  std::vector<v1::AuditEntry> ReadsOf(const std::string& caller) {
    auto audit = v1::Audit::NewStub(federation_.ChannelAs(kAuditorNode));
    v1::QueryEntriesRequest request;
    request.set_caller(caller);
    request.set_page_size(1000);
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::QueryEntriesResponse response;
    grpc::Status status = audit->QueryEntries(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<v1::AuditEntry> reads;
    for (const v1::AuditEntry& entry : response.entries()) {
      if (entry.operation() == "Get" || entry.operation() == "Query") reads.push_back(entry);
    }
    return reads;
  }

  static std::string GetBody(const std::string& key) {
    return nlohmann::json({{"key", key}, {"purpose", kPurpose}}).dump();
  }

  Federation federation_;
  int json_api_port_ = 0;
  int calls_ = 0;
};

TEST_F(JsonApiTest, GetAnswersTheGrantedFieldsAsJsonAndAuditsTheRead) {
  CurlResult result =
      Curl(kInsuranceNode, "/v1/datasets/mops/residents:get", GetBody("001090000001"));
  ASSERT_EQ(result.http_code, "200") << result.body;
  nlohmann::json body = result.Json();
  EXPECT_EQ(body["record"],
            nlohmann::json({{"full_name", "Nguyen Van An"}, {"birth_date", "1990-04-12"}}));
  EXPECT_EQ(body["fields"], nlohmann::json({"full_name", "birth_date"}));
  const std::string request_id = body["request_id"];
  EXPECT_THAT(result.headers, HasSubstr(absl::StrCat("ndx-request-id: ", request_id)));

  std::vector<v1::AuditEntry> entries = ReadsOf(kInsuranceNode);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].request_id(), request_id);
  EXPECT_EQ(entries[0].operation(), "Get");
  EXPECT_EQ(entries[0].dataset(), kResidents);
  EXPECT_EQ(entries[0].decision(), v1::AuditEntry::DECISION_ALLOW);
  EXPECT_THAT(entries[0].fields(), ElementsAre("full_name", "birth_date"));
  EXPECT_EQ(entries[0].subject_pseudonyms_size(), 1);
}

TEST_F(JsonApiTest, RefusalsAreJsonWithTheTranscodersHttpStatusAndAreAudited) {
  // No grant for the civil-status registry.
  CurlResult denied = Curl(kCivilNode, "/v1/datasets/mops/residents:get", GetBody("001090000001"));
  EXPECT_EQ(denied.http_code, "403");
  EXPECT_EQ(denied.Json()["code"], 7);
  EXPECT_THAT(denied.Json()["message"].get<std::string>(), Not(HasSubstr("001090000001")));
  EXPECT_THAT(denied.headers, HasSubstr("ndx-request-id: "));
  // A key the register does not hold.
  CurlResult missing =
      Curl(kInsuranceNode, "/v1/datasets/mops/residents:get", GetBody("001099999999"));
  EXPECT_EQ(missing.http_code, "404");
  EXPECT_EQ(missing.Json()["code"], 5);
  // A dataset nobody registered.
  CurlResult unknown =
      Curl(kInsuranceNode, "/v1/datasets/mops/nothing:get", GetBody("001090000001"));
  EXPECT_EQ(unknown.Json()["code"], 5) << unknown.body;
  EXPECT_EQ(unknown.http_code, "404");

  std::vector<v1::AuditEntry> civil = ReadsOf(kCivilNode);
  ASSERT_EQ(civil.size(), 1u);
  EXPECT_EQ(civil[0].decision(), v1::AuditEntry::DECISION_DENY);
  EXPECT_EQ(civil[0].code(), "PERMISSION_DENIED");
}

TEST_F(JsonApiTest, OverAGrantsRateLimitIs429WithRetryAfterInWholeSeconds) {
  // The owner limits the grant to one call every five seconds.
  auto registry = federation_.RegistryAs(kPopulationNode);
  v1::ListGrantsRequest list;
  list.set_consumer(kInsuranceNode);
  v1::ListGrantsResponse grants;
  {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    ASSERT_TRUE(registry->ListGrants(&context, list, &grants).ok());
  }
  ASSERT_EQ(grants.grants_size(), 1);
  v1::SetGrantRateLimitRequest limit;
  limit.set_grant_id(grants.grants(0).id());
  limit.mutable_rate_limit()->set_requests_per_second(0.2);
  limit.mutable_rate_limit()->set_burst(1);
  {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::Grant limited;
    grpc::Status status = registry->SetGrantRateLimit(&context, limit, &limited);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_EQ(
      Curl(kInsuranceNode, "/v1/datasets/mops/residents:get", GetBody("001090000001")).http_code,
      "200");
  CurlResult refused =
      Curl(kInsuranceNode, "/v1/datasets/mops/residents:get", GetBody("001090000001"));
  ASSERT_EQ(refused.http_code, "429") << refused.body;
  EXPECT_EQ(refused.Json()["code"], 8);
  EXPECT_THAT(refused.Json()["message"].get<std::string>(),
              HasSubstr("is over its rate limit of 0.2 requests per second (burst 1); retry in"));
  // The delay, under five seconds, rounded up to whole seconds.
  bool has_retry_after = false;
  for (absl::string_view line : absl::StrSplit(refused.headers, "\r\n")) {
    if (absl::StartsWithIgnoreCase(line, "retry-after: ")) {
      int seconds = 0;
      ASSERT_TRUE(absl::SimpleAtoi(line.substr(13), &seconds)) << line;
      EXPECT_GE(seconds, 1);
      EXPECT_LE(seconds, 5);
      has_retry_after = true;
    }
  }
  EXPECT_TRUE(has_retry_after) << refused.headers;
}

TEST_F(JsonApiTest, ABodyThatIsNotARequestIsRefusedWithoutRepeatingIt) {
  // A misspelt field name, a number for a string, a body that is not JSON.
  for (const std::string& body :
       {std::string(R"({"key": "001090000001", "purpose": "x", "feilds": ["full_name"]})"),
        std::string(R"({"key": 1090000001, "purpose": "x"})"), std::string("key=001090000001")}) {
    CurlResult result = Curl(kInsuranceNode, "/v1/datasets/mops/residents:get", body);
    EXPECT_EQ(result.http_code, "400") << body;
    EXPECT_EQ(result.Json()["code"], 3) << body;
    EXPECT_THAT(result.body, Not(HasSubstr("1090000001")));
  }
  CurlResult other_dataset =
      Curl(kInsuranceNode, "/v1/datasets/mops/residents:get",
           R"({"dataset": "moj/births", "key": "001090000001", "purpose": "x"})");
  EXPECT_EQ(other_dataset.http_code, "400");
  EXPECT_THAT(other_dataset.Json()["message"].get<std::string>(),
              HasSubstr("leave \"dataset\" out of the body"));
  CurlResult bad_timeout = Curl(kInsuranceNode, "/v1/datasets/mops/residents:get",
                                GetBody("001090000001"), "POST", {"grpc-timeout: soon"});
  EXPECT_EQ(bad_timeout.http_code, "400");
  EXPECT_THAT(bad_timeout.Json()["message"].get<std::string>(), HasSubstr("grpc-timeout"));
  CurlResult wrong_method = Curl(kInsuranceNode, "/v1/datasets/mops/residents:get", "", "GET");
  EXPECT_EQ(wrong_method.http_code, "405");
}

TEST_F(JsonApiTest, QueryPagesThroughTheMatchingRecords) {
  ASSERT_THAT(
      federation_
          .Grant(kCivilNode, kResidents, {"citizen_id", "full_name", "province"}, {kPurpose},
                 absl::Hours(24), true, {v1::OPERATION_READ, v1::OPERATION_QUERY})
          .status(),
      IsOk());
  nlohmann::json query = {{"filters", {{{"field", "province"}, {"value", "hanoi"}}}},
                          {"purpose", kPurpose},
                          {"pageSize", 2}};
  CurlResult first = Curl(kCivilNode, "/v1/datasets/mops/residents:query", query.dump());
  ASSERT_EQ(first.http_code, "200") << first.body;
  nlohmann::json page = first.Json();
  ASSERT_EQ(page["records"].size(), 2u);
  EXPECT_EQ(page["records"][0]["citizen_id"], "001090000001");
  EXPECT_EQ(page["records"][1]["citizen_id"], "001090000002");
  const std::string token = page["next_page_token"];
  ASSERT_FALSE(token.empty());

  query["page_token"] = token;
  query.erase("pageSize");
  query["page_size"] = 2;
  CurlResult second = Curl(kCivilNode, "/v1/datasets/mops/residents:query", query.dump());
  ASSERT_EQ(second.http_code, "200") << second.body;
  page = second.Json();
  ASSERT_EQ(page["records"].size(), 1u);
  EXPECT_EQ(page["records"][0]["citizen_id"], "001090000004");
  EXPECT_EQ(page["records"][0]["province"], "hanoi");
  EXPECT_EQ(page["next_page_token"], "");
}

TEST_F(JsonApiTest, AClientWithoutAPlatformCertificateIsRefusedAtTheHandshake) {
  CurlResult anonymous = Curl("", "/v1/datasets/mops/residents:get", GetBody("001090000001"));
  EXPECT_EQ(anonymous.http_code, "000");
  // TLS ends the handshake of a client without a certificate before any read exists.
  EXPECT_THAT(ReadsOf(""), ::testing::IsEmpty());
}

}  // namespace
}  // namespace ndx::testing
