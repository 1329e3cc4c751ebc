// RunCli end to end for everything that needs no gateway: parsing, usage errors, help, the
// profile lookup, and the pki commands writing into a temporary directory.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "common/files.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx::cli {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Global connection flags (before the command, where --key is always the client key) naming
// files that do not exist: a command that got past its own checks would fail with exit 3 when it
// loads them, so exit 2 proves the refusal came first.
std::vector<std::string> WithDeadGateway(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--gateway", "127.0.0.1:1", "--ca",         "ca.pem",
                                  "--cert",    "tls.pem",     "--key",        "tls.key",
                                  "--timeout", "500",         "--gateway-id", "core"};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(RunCliTest, HelpListsCommandsAndExitCodes) {
  CliResult result = RunNdxctl({"--help"});
  EXPECT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, AllOf(HasSubstr("pki"), HasSubstr("node"), HasSubstr("dataset"),
                                HasSubstr("grant"), HasSubstr("query"), HasSubstr("Exit codes"),
                                HasSubstr("17 PERMISSION_DENIED")));
  EXPECT_THAT(result.err, IsEmpty());
}

TEST(RunCliTest, EveryCommandHasHelp) {
  for (std::vector<std::string> command :
       std::vector<std::vector<std::string>>{{"pki", "init"},
                                             {"pki", "issue"},
                                             {"pki", "show"},
                                             {"node", "register"},
                                             {"node", "get"},
                                             {"node", "list"},
                                             {"dataset", "register"},
                                             {"dataset", "list"},
                                             {"dataset", "describe"},
                                             {"grant", "request"},
                                             {"grant", "approve"},
                                             {"grant", "revoke"},
                                             {"grant", "get"},
                                             {"grant", "list"},
                                             {"get"},
                                             {"query"}}) {
    command.push_back("--help");
    CliResult result = RunNdxctl(command);
    EXPECT_EQ(result.exit_code, 0) << command[0] << result;
    EXPECT_THAT(result.out, AllOf(HasSubstr("Usage: ndxctl"), HasSubstr("--output"))) << command[0];
  }
}

TEST(RunCliTest, NoCommandOrUnknownCommandIsUsage) {
  CliResult result = RunNdxctl({});
  EXPECT_EQ(result.exit_code, 2) << result;
  result = RunNdxctl({"frobnicate"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("\"frobnicate\" is not a command of ndxctl"));
  result = RunNdxctl({"node", "delete", "a/b"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("is not a command of ndxctl node; the commands are register"));
}

TEST(RunCliTest, MissingRequiredOptionIsUsage) {
  CliResult result = RunNdxctl(WithDeadGateway({"node", "register", "moh/insurance"}));
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, StartsWith("ndxctl: INVALID_ARGUMENT: "));
  EXPECT_THAT(result.out, IsEmpty());
}

TEST(RunCliTest, BadKindIsUsage) {
  CliResult result = RunNdxctl(WithDeadGateway(
      {"node", "register", "moh/insurance", "--name", "Health insurance", "--kind", "agency"}));
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--kind: node kind \"agency\" is not one of ministry"));
}

TEST(RunCliTest, BadRoleIsUsage) {
  CliResult result = RunNdxctl(WithDeadGateway(
      {"node", "register", "ndx/ops", "--name", "Ops", "--kind", "other", "--role", "root"}));
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--role"));
}

TEST(RunCliTest, BadClassIsUsage) {
  TempDir dir;
  ASSERT_THAT(WriteFileAtomically(dir.Join("r.proto"), "syntax = \"proto3\";", 0644), IsOk());
  CliResult result = RunNdxctl(WithDeadGateway(
      {"dataset", "register", "mops/residents", "--proto", dir.Join("r.proto"), "--message",
       "population.v1.Resident", "--key", "citizen_id", "--class", "citizen_id=secret"}));
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--class: field class \"secret\" is not one of open"));

  result = RunNdxctl(WithDeadGateway({"dataset", "register", "mops/residents", "--proto",
                                      dir.Join("r.proto"), "--message", "population.v1.Resident",
                                      "--key", "citizen_id", "--class", "citizen_id"}));
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("is not FIELD=CLASS"));
}

TEST(RunCliTest, UnreadableProtoIsLocal) {
  CliResult result = RunNdxctl(
      WithDeadGateway({"dataset", "register", "mops/residents", "--proto", "/nonexistent.proto",
                       "--message", "population.v1.Resident", "--key", "citizen_id"}));
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("ndxctl: NOT_FOUND: cannot open /nonexistent.proto"));
}

TEST(RunCliTest, WhereWithoutEqualsIsUsage) {
  CliResult result = RunNdxctl(WithDeadGateway(
      {"query", "mops/residents", "--where", "province", "--purpose", "statistics"}));
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--where: \"province\" is not FIELD=VALUE"));
}

TEST(RunCliTest, RepeatedOptionsDoNotSwallowPositionals) {
  // --where before the dataset: one value per --where, so the dataset stays positional and the
  // bad filter is what gets reported.
  CliResult result = RunNdxctl(WithDeadGateway(
      {"query", "--where", "province", "mops/residents", "--purpose", "statistics"}));
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--where: \"province\" is not FIELD=VALUE"));
}

TEST(RunCliTest, ExpiresMustBeRfc3339) {
  CliResult result = RunNdxctl(
      WithDeadGateway({"grant", "request", "--dataset", "mops/residents", "--fields", "full_name",
                       "--purpose", "statistics", "--expires", "2027-01-01"}));
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--expires: \"2027-01-01\" is not an RFC 3339 date-time"));
}

TEST(RunCliTest, ExpiresAndDaysExcludeEachOtherAndOneIsNeeded) {
  CliResult result = RunNdxctl(WithDeadGateway(
      {"grant", "request", "--dataset", "mops/residents", "--fields", "full_name", "--purpose",
       "statistics", "--expires", "2027-01-01T00:00:00Z", "--days", "3"}));
  EXPECT_EQ(result.exit_code, 2) << result;
  result = RunNdxctl(WithDeadGateway({"grant", "request", "--dataset", "mops/residents", "--fields",
                                      "full_name", "--purpose", "statistics"}));
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("give exactly one of --expires RFC3339 and --days N"));
}

TEST(RunCliTest, BadFieldNameIsUsage) {
  CliResult result = RunNdxctl(WithDeadGateway(
      {"get", "mops/residents", "001", "--purpose", "statistics", "--fields", "full_name,2nd"}));
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--fields"));
}

TEST(RunCliTest, BadGlobalValuesAreUsage) {
  EXPECT_EQ(RunNdxctl({"node", "list", "--output", "yaml"}).exit_code, 2);
  EXPECT_EQ(RunNdxctl({"node", "list", "--timeout", "0"}).exit_code, 2);
  EXPECT_EQ(RunNdxctl({"node", "list", "--timeout", "soon"}).exit_code, 2);
  EXPECT_EQ(RunNdxctl({"node", "list", "--gateway-id", "Not A Name", "--gateway", "127.0.0.1:1",
                       "--ca", "ca.pem", "--cert", "tls.pem", "--key", "tls.key"})
                .exit_code,
            2);
}

TEST(RunCliTest, GlobalOptionsWorkBeforeTheCommand) {
  CliResult result = RunNdxctl({"--output", "yaml", "node", "list"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--output"));
}

TEST(RunCliTest, MissingGatewayIsUsageAndNamesTheFlag) {
  TempDir home;
  ScopedEnv no_profile("NDX_PROFILE", nullptr);
  ScopedEnv empty_home("HOME", home.path().c_str());
  CliResult result = RunNdxctl({"node", "list"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("no gateway address: pass --gateway HOST:PORT"));
}

TEST(RunCliTest, MissingGatewayIdIsUsageAndNamesTheFlag) {
  TempDir home;
  ScopedEnv no_profile("NDX_PROFILE", nullptr);
  ScopedEnv empty_home("HOME", home.path().c_str());
  CliResult result = RunNdxctl({"node", "list", "--gateway", "127.0.0.1:1", "--ca", "ca.pem",
                                "--cert", "tls.pem", "--key", "tls.key"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("no gateway identity (the gateway's name, e.g. core for "
                                    "spiffe://<trust domain>/gateway/core): pass --gateway-id "
                                    "NAME or set gateway_id in a profile"));
}

TEST(RunCliTest, ProfileFromEnvironmentIsRead) {
  TempDir dir;
  ASSERT_THAT(
      WriteFileAtomically(dir.Join("p.textproto"), "gateway: \"127.0.0.1:1\"\nbogus: 1\n", 0644),
      IsOk());
  ScopedEnv profile("NDX_PROFILE", dir.Join("p.textproto").c_str());
  CliResult result = RunNdxctl({"node", "list"});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, AllOf(StartsWith("ndxctl: INVALID_ARGUMENT: profile: "),
                                HasSubstr("p.textproto: line 2")));

  // --profile wins over $NDX_PROFILE.
  result = RunNdxctl({"node", "list", "--profile", dir.Join("missing.textproto")});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("ndxctl: NOT_FOUND: profile: cannot open"));
}

TEST(RunCliTest, ProfileInHomeIsReadWhenNoOtherIsGiven) {
  TempDir home;
  std::filesystem::create_directories(home.Join(".config/ndx"));
  ASSERT_THAT(WriteFileAtomically(home.Join(".config/ndx/profile.textproto"), "gateway: 1\n", 0644),
              IsOk());
  ScopedEnv no_profile("NDX_PROFILE", nullptr);
  ScopedEnv fake_home("HOME", home.path().c_str());
  CliResult result = RunNdxctl({"node", "list"});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("profile.textproto: line 1"));
}

TEST(RunCliTest, PkiInitIssueShow) {
  TempDir dir;
  const std::string ca_dir = dir.Join("ca");
  CliResult result =
      RunNdxctl({"pki", "init", "--dir", ca_dir, "--trust-domain", "ndx.gov.vn", "--days", "30"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, HasSubstr("created the CA of trust domain ndx.gov.vn"));
  EXPECT_TRUE(std::filesystem::exists(ca_dir + "/ca.pem"));
  EXPECT_EQ(ModeOf(ca_dir + "/ca.key"), 0600u);

  const std::string node_dir = dir.Join("insurance");
  result = RunNdxctl({"pki", "issue", "--ca-dir", ca_dir, "--out-dir", node_dir, "--node",
                      "moh/insurance", "--dns", "insurance.example", "--ip", "127.0.0.1"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, HasSubstr("issued spiffe://ndx.gov.vn/node/moh/insurance"));
  EXPECT_TRUE(std::filesystem::exists(node_dir + "/tls.pem"));
  EXPECT_TRUE(std::filesystem::exists(node_dir + "/ca.pem"));
  EXPECT_EQ(ModeOf(node_dir + "/tls.key"), 0600u);

  const std::string gateway_dir = dir.Join("gateway");
  result = RunNdxctl({"pki", "issue", "--ca-dir", ca_dir, "--out-dir", gateway_dir, "--gateway",
                      "core", "--name", "core", "--days", "10", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::json issued = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_FALSE(issued.is_discarded()) << result.out;
  EXPECT_EQ(issued["identity"], "spiffe://ndx.gov.vn/gateway/core");
  EXPECT_EQ(issued["cert"], gateway_dir + "/core.pem");
  EXPECT_EQ(ModeOf(gateway_dir + "/core.key"), 0600u);

  result = RunNdxctl({"pki", "show", node_dir + "/tls.pem"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, AllOf(HasSubstr("uri:         spiffe://ndx.gov.vn/node/moh/insurance"),
                                HasSubstr("dns:         insurance.example"),
                                HasSubstr("ip:          127.0.0.1"), HasSubstr("ca:          no")));

  result = RunNdxctl({"pki", "show", ca_dir + "/ca.pem", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::json shown = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_FALSE(shown.is_discarded()) << result.out;
  EXPECT_EQ(shown["is_ca"], true);
  EXPECT_EQ(shown["uris"], nlohmann::json::array({"spiffe://ndx.gov.vn"}));
  EXPECT_EQ(shown["sha256_fingerprint"].get<std::string>().size(), 64u);
}

TEST(RunCliTest, PkiErrorsAreLocalOrUsage) {
  TempDir dir;
  const std::string ca_dir = dir.Join("ca");
  ASSERT_EQ(RunNdxctl({"pki", "init", "--dir", ca_dir, "--trust-domain", "ndx.test"}).exit_code, 0);
  // An existing CA key is never overwritten.
  CliResult result = RunNdxctl({"pki", "init", "--dir", ca_dir, "--trust-domain", "ndx.test"});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, StartsWith("ndxctl: ALREADY_EXISTS: "));
  // Neither or both of --node and --gateway.
  result = RunNdxctl({"pki", "issue", "--ca-dir", ca_dir, "--out-dir", dir.Join("x")});
  EXPECT_EQ(result.exit_code, 2) << result;
  result = RunNdxctl({"pki", "issue", "--ca-dir", ca_dir, "--out-dir", dir.Join("x"), "--node",
                      "a/b", "--gateway", "core"});
  EXPECT_EQ(result.exit_code, 2) << result;
  // A malformed node id.
  result =
      RunNdxctl({"pki", "issue", "--ca-dir", ca_dir, "--out-dir", dir.Join("x"), "--node", "MOH"});
  EXPECT_EQ(result.exit_code, 2) << result;
  // No CA there.
  result = RunNdxctl(
      {"pki", "issue", "--ca-dir", dir.Join("none"), "--out-dir", dir.Join("x"), "--node", "a/b"});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("ca.pem"));
  // A bad trust domain.
  result = RunNdxctl({"pki", "init", "--dir", dir.Join("ca2"), "--trust-domain", "NDX GOV"});
  EXPECT_EQ(result.exit_code, 3) << result;
  // Not a certificate.
  ASSERT_THAT(WriteFileAtomically(dir.Join("junk.pem"), "hello", 0644), IsOk());
  result = RunNdxctl({"pki", "show", dir.Join("junk.pem")});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("junk.pem"));
}

}  // namespace
}  // namespace ndx::cli
