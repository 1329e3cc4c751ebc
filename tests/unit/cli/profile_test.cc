#include "cli/profile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/cli_status.h"
#include "common/files.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx::cli {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::ndx::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kProfile[] = R"(gateway: "gw.example:8443"
tls { ca_file: "pki/ca.pem" cert_file: "pki/tls.pem" key_file: "/abs/tls.key" }
timeout_ms: 2500
gateway_id: "core"
)";

class ProfileTest : public ::testing::Test {
 protected:
  std::string WriteProfile(const std::string& relative_path, const std::string& text) {
    std::string path = dir_.Join(relative_path);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    EXPECT_THAT(WriteFileAtomically(path, text, 0644), IsOk());
    return path;
  }

  TempDir dir_;
};

TEST_F(ProfileTest, FindPrefersTheFlagThenTheEnvironmentThenHome) {
  std::string home_profile = WriteProfile("home/.config/ndx/profile.textproto", kProfile);
  std::string home = dir_.Join("home");
  EXPECT_EQ(FindProfilePath("flag.textproto", "env.textproto", home.c_str()), "flag.textproto");
  EXPECT_EQ(FindProfilePath("", "env.textproto", home.c_str()), "env.textproto");
  EXPECT_EQ(FindProfilePath("", "", home.c_str()), home_profile);
  EXPECT_EQ(FindProfilePath("", nullptr, home.c_str()), home_profile);
}

TEST_F(ProfileTest, NoProfileWhenHomeHasNone) {
  std::string empty_home = dir_.Join("empty");
  std::filesystem::create_directories(empty_home);
  EXPECT_EQ(FindProfilePath("", nullptr, empty_home.c_str()), "");
  EXPECT_EQ(FindProfilePath("", nullptr, nullptr), "");
}

TEST_F(ProfileTest, RelativePathsAreResolvedAgainstTheProfile) {
  std::string path = WriteProfile("profiles/insurance.textproto", kProfile);
  absl::StatusOr<ConnectionSettings> settings =
      ResolveConnection({}, path, GatewayIdentity::kRequired);
  ASSERT_THAT(settings, IsOk());
  EXPECT_EQ(settings->gateway, "gw.example:8443");
  EXPECT_EQ(settings->tls.ca_file, dir_.Join("profiles/pki/ca.pem"));
  EXPECT_EQ(settings->tls.cert_file, dir_.Join("profiles/pki/tls.pem"));
  EXPECT_EQ(settings->tls.key_file, "/abs/tls.key");
  EXPECT_EQ(settings->timeout_ms, 2500);
  EXPECT_EQ(settings->gateway_id, "core");
}

TEST_F(ProfileTest, FlagsOverrideTheProfile) {
  std::string path = WriteProfile("p.textproto", kProfile);
  ConnectionFlags flags;
  flags.gateway = "127.0.0.1:9000";
  flags.cert_file = "mine/tls.pem";  // relative to the working directory, left as given
  flags.timeout_ms = 100;
  flags.gateway_id = "edge";
  absl::StatusOr<ConnectionSettings> settings =
      ResolveConnection(flags, path, GatewayIdentity::kRequired);
  ASSERT_THAT(settings, IsOk());
  EXPECT_EQ(settings->gateway, "127.0.0.1:9000");
  EXPECT_EQ(settings->tls.cert_file, "mine/tls.pem");
  EXPECT_EQ(settings->tls.ca_file, dir_.Join("pki/ca.pem"));
  EXPECT_EQ(settings->timeout_ms, 100);
  EXPECT_EQ(settings->gateway_id, "edge");
}

TEST_F(ProfileTest, FlagsAloneNeedNoProfile) {
  ConnectionFlags flags;
  flags.gateway = "127.0.0.1:9000";
  flags.ca_file = "ca.pem";
  flags.cert_file = "tls.pem";
  flags.key_file = "tls.key";
  flags.gateway_id = "core";
  absl::StatusOr<ConnectionSettings> settings =
      ResolveConnection(flags, "", GatewayIdentity::kRequired);
  ASSERT_THAT(settings, IsOk());
  EXPECT_EQ(settings->timeout_ms, kDefaultTimeoutMs);
  EXPECT_EQ(settings->tls.key_file, "tls.key");
}

TEST_F(ProfileTest, MissingSettingsAreUsageErrorsNamingTheFlag) {
  absl::StatusOr<ConnectionSettings> settings =
      ResolveConnection({}, "", GatewayIdentity::kRequired);
  EXPECT_THAT(settings, StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("pass --gateway HOST:PORT or set gateway")));
  EXPECT_TRUE(IsUsageError(settings.status()));

  std::string path = WriteProfile("nokey.textproto", R"(gateway: "g:1" tls { ca_file: "ca.pem"
    cert_file: "tls.pem" })");
  settings = ResolveConnection({}, path, GatewayIdentity::kRequired);
  EXPECT_THAT(settings, StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("pass --key FILE or set tls.key_file in the profile")));
}

TEST_F(ProfileTest, GatewayIdIsRequiredUnlessOptional) {
  std::string path = WriteProfile("no-id.textproto", R"(gateway: "g:1" tls { ca_file: "ca.pem"
    cert_file: "tls.pem" key_file: "tls.key" })");
  absl::StatusOr<ConnectionSettings> settings =
      ResolveConnection({}, path, GatewayIdentity::kRequired);
  EXPECT_THAT(settings,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no gateway identity (the gateway's name, e.g. core for "
                                 "spiffe://<trust domain>/gateway/core): pass --gateway-id NAME "
                                 "or set gateway_id in the profile " +
                                 path)));
  EXPECT_TRUE(IsUsageError(settings.status()));

  settings = ResolveConnection({}, path, GatewayIdentity::kOptional);
  ASSERT_THAT(settings, IsOk());
  EXPECT_EQ(settings->gateway_id, "");
}

TEST_F(ProfileTest, MalformedGatewayIdIsAUsageErrorNamingItsSource) {
  std::string path = WriteProfile("bad-id.textproto", R"(gateway: "g:1" tls { ca_file: "ca.pem"
    cert_file: "tls.pem" key_file: "tls.key" } gateway_id: "Core!")");
  for (GatewayIdentity identity : {GatewayIdentity::kRequired, GatewayIdentity::kOptional}) {
    absl::StatusOr<ConnectionSettings> settings = ResolveConnection({}, path, identity);
    EXPECT_THAT(settings, StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("gateway id \"Core!\" (gateway_id of the profile) "
                                             "is not a gateway name")));
    EXPECT_TRUE(IsUsageError(settings.status()));
  }
  ConnectionFlags flags;
  flags.gateway_id = "a/b";
  EXPECT_THAT(ResolveConnection(flags, path, GatewayIdentity::kRequired),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("gateway id \"a/b\" (--gateway-id) is not a gateway name")));
}

TEST_F(ProfileTest, UnreadableOrBadProfileIsALocalError) {
  absl::StatusOr<ConnectionSettings> settings =
      ResolveConnection({}, dir_.Join("missing.textproto"), GatewayIdentity::kRequired);
  EXPECT_THAT(settings, StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.textproto")));
  EXPECT_EQ(ExitCodeFor(settings.status()), kExitLocal);

  std::string path = WriteProfile("bad.textproto", "gateway: \"g:1\"\ntimeout: 5\n");
  settings = ResolveConnection({}, path, GatewayIdentity::kRequired);
  EXPECT_THAT(settings, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2")));
  EXPECT_EQ(ExitCodeFor(settings.status()), kExitLocal);
}

}  // namespace
}  // namespace ndx::cli
