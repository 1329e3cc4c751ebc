// The commands that call the gateway, run through RunCli against an in-process fake gateway
// over real mTLS: what they send, what they print, and how failures become exit codes.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli_runner.h"
#include "common/files.h"
#include "fake_gateway.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace ndx::cli {
namespace {

using ::ndx::testing::IsOk;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr char kConsumer[] = "moh/insurance";

class RpcCommandsTest : public ::testing::Test {
 protected:
  // ndxctl <connection flags as kConsumer> <args...>
  CliResult Run(const std::vector<std::string>& args, const std::string& as = kConsumer) {
    std::vector<std::string> all = gateway_.FlagsAs(as);
    all.insert(all.end(), args.begin(), args.end());
    return RunNdxctl(all);
  }

  testing::TestPki pki_;
  FakeGateway gateway_{pki_};
};

TEST_F(RpcCommandsTest, NodeListPrintsATable) {
  CliResult result = Run({"node", "list"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out,
            "ID               NAME                 KIND      STATE   ROLES             ENDPOINT\n"
            "mops/population  Population register  ministry  active  -                 "
            "127.0.0.1:9101\n"
            "ndx/ops          Platform operations  other     active  operator,auditor  -\n");
  EXPECT_THAT(result.err, IsEmpty());
}

TEST_F(RpcCommandsTest, NodeListJsonIsOneDocumentWithEveryField) {
  CliResult result = Run({"node", "list", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json json = ParseJson(result.out);
  ASSERT_EQ(json["nodes"].size(), 2u);
  EXPECT_EQ(json["nodes"][0]["id"], "mops/population");
  EXPECT_EQ(json["nodes"][0]["kind"], "NODE_KIND_MINISTRY");
  EXPECT_EQ(json["nodes"][1]["roles"],
            nlohmann::ordered_json::array({"ROLE_OPERATOR", "ROLE_AUDITOR"}));
  // Scalars at their default are printed, so scripts need not guess.
  EXPECT_EQ(json["nodes"][1]["adapter_endpoint"], "");
}

TEST_F(RpcCommandsTest, NodeRegisterSendsTheNode) {
  CliResult result = Run({"node", "register", "mops/population", "--name", "Population register",
                          "--kind", "ministry", "--endpoint", "127.0.0.1:9101", "--role",
                          "operator", "--role", "auditor", "--suspended"});
  ASSERT_EQ(result.exit_code, 0) << result;
  v1::Node sent = gateway_.last_register_node().node();
  EXPECT_EQ(sent.id(), "mops/population");
  EXPECT_EQ(sent.display_name(), "Population register");
  EXPECT_EQ(sent.kind(), v1::NODE_KIND_MINISTRY);
  EXPECT_EQ(sent.adapter_endpoint(), "127.0.0.1:9101");
  EXPECT_THAT(sent.roles(), ElementsAre(v1::ROLE_OPERATOR, v1::ROLE_AUDITOR));
  EXPECT_EQ(sent.state(), v1::NODE_STATE_SUSPENDED);
  EXPECT_THAT(result.out,
              AllOf(HasSubstr("id:        mops/population"), HasSubstr("state:     suspended"),
                    HasSubstr("roles:     operator,auditor")));
}

TEST_F(RpcCommandsTest, DatasetRegisterSendsTheProtoBasenameAndSource) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.Join("schemas"));
  const std::string proto = dir.Join("schemas/resident.proto");
  ASSERT_THAT(WriteFileAtomically(proto, kResidentProto, 0644), IsOk());
  CliResult result = Run(
      {"dataset", "register", "mops/residents", "--proto", proto, "--message",
       "population.v1.Resident", "--key", "citizen_id", "--subject", "citizen_id", "--class",
       "province=open", "--class", "citizen_id=sensitive", "--description", "Permanent residents"},
      "mops/population");
  ASSERT_EQ(result.exit_code, 0) << result;
  v1::RegisterDatasetRequest sent = gateway_.last_register_dataset();
  EXPECT_EQ(sent.id(), "mops/residents");
  EXPECT_EQ(sent.proto_file_name(), "resident.proto");
  EXPECT_EQ(sent.proto_source(), kResidentProto);
  EXPECT_EQ(sent.message_type(), "population.v1.Resident");
  EXPECT_EQ(sent.key_field(), "citizen_id");
  EXPECT_EQ(sent.subject_field(), "citizen_id");
  EXPECT_EQ(sent.description(), "Permanent residents");
  EXPECT_THAT(sent.field_classes(),
              UnorderedElementsAre(Pair("province", v1::FIELD_CLASS_OPEN),
                                   Pair("citizen_id", v1::FIELD_CLASS_SENSITIVE)));
  EXPECT_THAT(result.out, HasSubstr("version:       2"));

  result = Run({"dataset", "register", "mops/residents", "--proto", proto, "--message", "x.Y",
                "--key", "citizen_id", "--class", "province=open", "--class", "province=internal"},
               "mops/population");
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("field province is given twice"));
}

TEST_F(RpcCommandsTest, DatasetDescribeShowsTheFields) {
  CliResult result = Run({"dataset", "describe", "mops/residents"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out,
              AllOf(HasSubstr("message type:  population.v1.Resident"),
                    HasSubstr("key:           citizen_id"), HasSubstr("subject:       citizen_id"),
                    HasSubstr("FIELD           NUMBER  TYPE    CLASS\n"),
                    HasSubstr("province        4       string  open\n"),
                    HasSubstr("household_size  6       int64   personal\n")));
}

TEST_F(RpcCommandsTest, NotFoundIsExitFifteen) {
  CliResult result = Run({"dataset", "describe", "moj/unknown"});
  EXPECT_EQ(result.exit_code, 15) << result;
  EXPECT_EQ(result.err, "ndxctl: NOT_FOUND: dataset moj/unknown is not registered\n");
  EXPECT_THAT(result.out, IsEmpty());
}

TEST_F(RpcCommandsTest, GrantRequestPrintsTheIdAndSendsTheExpiry) {
  CliResult result =
      Run({"grant", "request", "--dataset", "mops/residents", "--fields", "full_name,birth_date",
           "--purpose", "health-insurance-enrolment", "--purpose", "statistics", "--expires",
           "2027-01-01T07:00:00+07:00", "--justification", "Decree 146"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out, "g-7\n");
  v1::RequestGrantRequest sent = gateway_.last_request_grant();
  EXPECT_EQ(sent.dataset(), "mops/residents");
  EXPECT_THAT(sent.fields(), ElementsAre("full_name", "birth_date"));
  EXPECT_THAT(sent.purposes(), ElementsAre("health-insurance-enrolment", "statistics"));
  EXPECT_EQ(sent.expires_at().seconds(), 1798761600);  // 2027-01-01T00:00:00Z
  EXPECT_EQ(sent.justification(), "Decree 146");
  // No --operations: the gateway's default.
  EXPECT_THAT(sent.operations(), ElementsAre());
}

TEST_F(RpcCommandsTest, GrantRequestSendsTheOperationsAskedFor) {
  CliResult result =
      Run({"grant", "request", "--dataset", "mops/residents", "--fields", "full_name", "--purpose",
           "statistics", "--days", "30", "--operations", "read,export"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(gateway_.last_request_grant().operations(),
              ElementsAre(v1::OPERATION_READ, v1::OPERATION_EXPORT));
  result = Run({"grant", "request", "--dataset", "mops/residents", "--fields", "full_name",
                "--purpose", "statistics", "--days", "30", "--operations", "read,bulk"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("operation \"bulk\" is not one of read, query, export, "
                                    "subscribe"));
}

TEST_F(RpcCommandsTest, GrantRequestWithDays) {
  CliResult result =
      Run({"grant", "request", "--dataset", "mops/residents", "--fields", "full_name", "--purpose",
           "statistics", "--days", "30", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(ParseJson(result.out)["id"], "g-7");
  int64_t expected = absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 30));
  EXPECT_NEAR(gateway_.last_request_grant().expires_at().seconds(), expected, 60);
}

TEST_F(RpcCommandsTest, GrantRequestSendsTheRateAskedFor) {
  CliResult result =
      Run({"grant", "request", "--dataset", "mops/residents", "--fields", "full_name", "--purpose",
           "statistics", "--days", "30", "--rate", "0.5", "--burst", "3"});
  ASSERT_EQ(result.exit_code, 0) << result;
  v1::RequestGrantRequest sent = gateway_.last_request_grant();
  ASSERT_TRUE(sent.has_rate_limit());
  EXPECT_EQ(sent.rate_limit().requests_per_second(), 0.5);
  EXPECT_EQ(sent.rate_limit().burst(), 3u);

  // No --rate: no limit asked for. A --burst leaves the gateway's one second's worth.
  result = Run({"grant", "request", "--dataset", "mops/residents", "--fields", "full_name",
                "--purpose", "statistics", "--days", "30"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_FALSE(gateway_.last_request_grant().has_rate_limit());
  result = Run({"grant", "request", "--dataset", "mops/residents", "--fields", "full_name",
                "--purpose", "statistics", "--days", "30", "--rate", "20"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(gateway_.last_request_grant().rate_limit().requests_per_second(), 20);
  EXPECT_EQ(gateway_.last_request_grant().rate_limit().burst(), 0u);
}

TEST_F(RpcCommandsTest, GrantRateFlagsAreCheckedBeforeAnyCall) {
  const std::vector<std::string> request = {"grant",    "request",   "--dataset", "mops/residents",
                                            "--fields", "full_name", "--purpose", "statistics",
                                            "--days",   "30"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = request;
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  };
  CliResult result = with({"--rate", "ten"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--rate \"ten\" is not a number of calls per second above 0"));
  for (const char* rate : {"0", "-1", "inf", "nan"}) {
    result = with({"--rate", rate});
    EXPECT_EQ(result.exit_code, 2) << rate << result;
  }
  result = with({"--burst", "5"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--burst needs --rate"));
  result = with({"--rate", "5", "--burst", "0"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--burst \"0\" is not a whole number of calls of at least 1"));
  result = Run({"grant", "set-rate", "g-7"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err,
              HasSubstr("give exactly one of --rate (with --burst if wanted) and --none"));
  result = Run({"grant", "set-rate", "g-7", "--rate", "5", "--none"});
  EXPECT_EQ(result.exit_code, 2) << result;
  // Nothing reached the gateway.
  EXPECT_FALSE(gateway_.last_request_grant().has_rate_limit());
  EXPECT_TRUE(gateway_.last_set_grant_rate_limit().grant_id().empty());
}

TEST_F(RpcCommandsTest, GrantApproveAndSetRateSendTheLimitAndShowIt) {
  CliResult result = Run({"grant", "approve", "g-7", "--rate", "5", "--burst", "10"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(gateway_.last_approve_grant().grant_id(), "g-7");
  EXPECT_EQ(gateway_.last_approve_grant().rate_limit().requests_per_second(), 5);
  EXPECT_EQ(gateway_.last_approve_grant().rate_limit().burst(), 10u);
  EXPECT_THAT(result.out, HasSubstr("rate limit:     5/s, burst 10\n"));

  // Approving without --rate keeps what the consumer asked for.
  result = Run({"grant", "approve", "g-8"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_FALSE(gateway_.last_approve_grant().has_rate_limit());
  EXPECT_THAT(result.out, HasSubstr("rate limit:     none\n"));

  result = Run({"grant", "set-rate", "g-7", "--rate", "0.5"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(gateway_.last_set_grant_rate_limit().grant_id(), "g-7");
  EXPECT_EQ(gateway_.last_set_grant_rate_limit().rate_limit().requests_per_second(), 0.5);
  EXPECT_EQ(gateway_.last_set_grant_rate_limit().rate_limit().burst(), 0u);

  result = Run({"grant", "set-rate", "g-7", "--none", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_FALSE(gateway_.last_set_grant_rate_limit().has_rate_limit());
  EXPECT_FALSE(ParseJson(result.out).contains("rate_limit"));
}

TEST_F(RpcCommandsTest, GetPrintsOnlyTheReturnedFieldsAsJson) {
  CliResult result = Run({"get", "mops/residents", "001090000001", "--purpose", "statistics"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json record = ParseJson(result.out);
  // In the order of the returned fields; a returned field at its default value shows; the
  // address the (fake) adapter left in the bytes is not among the returned fields and does not.
  EXPECT_EQ(record.dump(),
            R"({"citizen_id":"001090000001","full_name":"Nguyễn Văn An","household_size":"0"})");
}

TEST_F(RpcCommandsTest, GetJsonHasRequestIdFieldsAndRecord) {
  CliResult result =
      Run({"get", "mops/residents", "001", "--purpose", "statistics", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json json = ParseJson(result.out);
  EXPECT_EQ(json["request_id"], "req-1");
  EXPECT_EQ(json["fields"],
            nlohmann::ordered_json::array({"citizen_id", "full_name", "household_size"}));
  EXPECT_EQ(json["record"]["citizen_id"], "001");
  EXPECT_FALSE(json["record"].contains("address"));
}

TEST_F(RpcCommandsTest, RefusedReadIsExitSeventeen) {
  CliResult result = Run({"get", "mops/residents", "001", "--purpose", "denied"});
  EXPECT_EQ(result.exit_code, 17) << result;
  EXPECT_EQ(result.err,
            "ndxctl: PERMISSION_DENIED: node moh/insurance has no grant on dataset "
            "mops/residents\n");
  EXPECT_THAT(result.out, IsEmpty());
}

TEST_F(RpcCommandsTest, TimeoutIsTheCallDeadline) {
  absl::Time start = absl::Now();
  CliResult result =
      Run({"get", "mops/residents", "slow", "--purpose", "statistics", "--timeout", "200"});
  EXPECT_EQ(result.exit_code, 14) << result;
  EXPECT_THAT(result.err, HasSubstr("ndxctl: DEADLINE_EXCEEDED: "));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1400));
}

TEST_F(RpcCommandsTest, RecordOfAnotherTypeIsALocalError) {
  CliResult result = Run({"get", "mops/residents", "wrong-type", "--purpose", "statistics"});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("is not a population.v1.Resident"));
}

TEST_F(RpcCommandsTest, QueryPrintsJsonLinesAndTheNextPageToken) {
  CliResult result =
      Run({"query", "mops/residents", "--where", "province=hanoi", "--where", "household_size=4",
           "--purpose", "statistics", "--fields", "citizen_id,full_name", "--page-size", "2"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out,
            "{\"citizen_id\":\"001\",\"full_name\":\"Nguyen Van An\"}\n"
            "{\"citizen_id\":\"002\",\"full_name\":\"Tran Thi Binh\"}\n");
  EXPECT_THAT(result.err, HasSubstr("--page-token page-2"));
  std::vector<v1::QueryRequest> sent = gateway_.queries();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(sent[0].filters_size(), 2);
  EXPECT_EQ(sent[0].filters(0).field(), "province");
  EXPECT_EQ(sent[0].filters(0).value(), "hanoi");
  EXPECT_EQ(sent[0].filters(1).field(), "household_size");
  EXPECT_THAT(sent[0].fields(), ElementsAre("citizen_id", "full_name"));
  EXPECT_EQ(sent[0].page_size(), 2);
  EXPECT_EQ(sent[0].purpose(), "statistics");
}

TEST_F(RpcCommandsTest, QueryAllFollowsThePages) {
  CliResult result = Run({"query", "mops/residents", "--where", "province=hanoi", "--purpose",
                          "statistics", "--all", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json json = ParseJson(result.out);
  EXPECT_EQ(json["request_ids"], nlohmann::ordered_json::array({"req-q1", "req-q2"}));
  ASSERT_EQ(json["records"].size(), 3u);
  EXPECT_EQ(json["records"][2]["citizen_id"], "004");
  EXPECT_EQ(json["next_page_token"], "");
  std::vector<v1::QueryRequest> sent = gateway_.queries();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].page_token(), "page-2");
}

TEST_F(RpcCommandsTest, QueryStartsAtTheGivenPageToken) {
  CliResult result = Run({"query", "mops/residents", "--where", "province=hanoi", "--purpose",
                          "statistics", "--page-token", "page-2"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out, "{\"citizen_id\":\"004\",\"full_name\":\"Pham Thi Dung\"}\n");
  EXPECT_THAT(result.err, IsEmpty());
}

TEST_F(RpcCommandsTest, GatewayIdPinsTheGatewayIdentity) {
  CliResult result = Run({"node", "list", "--gateway-id", "core"});
  EXPECT_EQ(result.exit_code, 0) << result;
  // The fake is spiffe://ndx.test/gateway/core: another name fails the handshake, saying why.
  result = Run({"node", "list", "--gateway-id", "edge", "--timeout", "3000"});
  EXPECT_EQ(result.exit_code, 24) << result;
  EXPECT_THAT(result.err, AllOf(HasSubstr("ndxctl: UNAVAILABLE: "),
                                HasSubstr("server certificate has URI SANs "
                                          "{spiffe://ndx.test/gateway/core}; expected exactly "
                                          "{spiffe://ndx.test/gateway/edge}")));
}

TEST_F(RpcCommandsTest, ProfileWithRelativePathsAndFlagOverride) {
  crypto::TlsFilePaths tls = pki_.Node(kConsumer);
  const std::string profile_dir = pki_.dir() + "/profiles";
  std::filesystem::create_directories(profile_dir);
  auto relative = [&](const std::string& path) {
    return std::filesystem::relative(path, profile_dir).string();
  };
  const std::string profile = profile_dir + "/insurance.textproto";
  ASSERT_THAT(WriteFileAtomically(
                  profile,
                  absl::StrCat("gateway: \"", gateway_.address(), "\"\n", "tls { ca_file: \"",
                               relative(tls.ca_file), "\" cert_file: \"", relative(tls.cert_file),
                               "\" key_file: \"", relative(tls.key_file), "\" }\n",
                               "timeout_ms: 5000\n", "gateway_id: \"core\"\n"),
                  0644),
              IsOk());
  ASSERT_THAT(relative(tls.cert_file), Not(HasSubstr(pki_.dir())));

  CliResult result = RunNdxctl({"node", "list", "--profile", profile});
  EXPECT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, HasSubstr("mops/population"));

  // The same profile with --gateway pointing elsewhere: the flag wins.
  result = RunNdxctl({"node", "list", "--profile", profile, "--gateway", "127.0.0.1:1"});
  EXPECT_EQ(result.exit_code, 24) << result;

  // --gateway-id overrides the profile's gateway_id: the fake is not "edge".
  result = RunNdxctl({"node", "list", "--profile", profile, "--gateway-id", "edge"});
  EXPECT_EQ(result.exit_code, 24) << result;
  EXPECT_THAT(result.err, HasSubstr("expected exactly {spiffe://ndx.test/gateway/edge}"));
}

TEST_F(RpcCommandsTest, UnreadableKeyIsALocalError) {
  crypto::TlsFilePaths tls = pki_.Node(kConsumer);
  CliResult result =
      RunNdxctl({"node", "list", "--gateway", gateway_.address(), "--ca", tls.ca_file, "--cert",
                 tls.cert_file, "--key", pki_.dir() + "/missing.key", "--gateway-id", "core"});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("TLS credentials"));
}

// The gateway would fail the handshake without a word; ndxctl says which rule its certificate
// breaks before connecting.
TEST_F(RpcCommandsTest, CertificateTheGatewayWouldRefuseIsALocalError) {
  crypto::TlsFilePaths tls =
      pki_.WithDefect(crypto::SpiffeId::Node(testing::TestPki::kTrustDomain, kConsumer),
                      testing::CertificateDefect::kServerAuthOnly);
  CliResult result =
      RunNdxctl({"node", "list", "--gateway", gateway_.address(), "--ca", tls.ca_file, "--cert",
                 tls.cert_file, "--key", tls.key_file, "--gateway-id", "core"});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err,
              HasSubstr(absl::StrCat(tls.cert_file,
                                     " would be refused by its peers: client certificate lacks "
                                     "the clientAuth extended key usage")));
}

}  // namespace
}  // namespace ndx::cli
