#include "gateway/gateway_config.h"

#include <gtest/gtest.h>

#include <limits>

#include "common/files.h"
#include "gateway/node_limits.h"
#include "gateway/owner_guard.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kConfig[] = R"(
listen_address: "127.0.0.1:0"
trust_domain: "ndx.test"
tls { ca_file: "pki/ca.pem" cert_file: "pki/tls.pem" key_file: "/abs/tls.key" }
data_dir: "registry"
bootstrap_operators: "ndx/ops"
)";

TEST(GatewayConfigTest, ResolvesPathsAndFillsDefaults) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("gateway.textproto");
  ASSERT_THAT(WriteFileAtomically(path, kConfig, 0644), IsOk());
  auto config = LoadGatewayConfig(path);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->tls().ca_file(), dir.Join("pki/ca.pem"));
  EXPECT_EQ(config->tls().key_file(), "/abs/tls.key");
  EXPECT_EQ(config->data_dir(), dir.Join("registry"));
  EXPECT_EQ(config->max_message_bytes(), 4u << 20);
  EXPECT_EQ(config->adapter_timeout_ms(), 5000u);
  EXPECT_EQ(config->default_page_size(), 100u);
  EXPECT_EQ(config->max_page_size(), 1000u);
  EXPECT_EQ(config->audit().dir(), dir.Join("registry/audit"));
  EXPECT_EQ(config->audit().durability(), v1::DURABILITY_POWER_LOSS);
  EXPECT_EQ(config->events().dir(), dir.Join("registry/events"));
  EXPECT_EQ(config->events().retention_seconds(), 7u * 24 * 3600);
  EXPECT_EQ(config->events().expiry_interval_seconds(), 60u);
  EXPECT_EQ(config->audit().signing_key_file(), dir.Join("registry/audit/checkpoint.key"));
  EXPECT_EQ(config->audit().pseudonym_key_file(), dir.Join("registry/audit/pseudonym.key"));
  EXPECT_EQ(config->audit().origin(), "ndx.test/audit");
  EXPECT_EQ(config->audit().checkpoint_interval_seconds(), 10u);
}

TEST(GatewayConfigTest, NamesTheSettingToFix) {
  v1::GatewayConfig config;
  EXPECT_THAT(FinishGatewayConfig("g.textproto", &config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("listen_address")));
  config.set_listen_address("127.0.0.1:0");
  config.set_trust_domain("Bad/Domain");
  EXPECT_THAT(FinishGatewayConfig("g.textproto", &config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trust_domain")));
  config.set_trust_domain("ndx.test");
  EXPECT_THAT(FinishGatewayConfig("g.textproto", &config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tls")));
  config.mutable_tls()->set_ca_file("a");
  config.mutable_tls()->set_cert_file("b");
  config.mutable_tls()->set_key_file("c");
  EXPECT_THAT(FinishGatewayConfig("g.textproto", &config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("data_dir")));
  config.set_data_dir("d");
  config.add_bootstrap_operators("ops");
  EXPECT_THAT(FinishGatewayConfig("g.textproto", &config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bootstrap_operators")));
  config.clear_bootstrap_operators();
  // Found by fuzz/config_fuzzer: an origin that no checkpoint can be signed under.
  for (const char* origin : {"ndx.test/a\xff\xfeit", "ndx test/audit", "ndx.test+audit"}) {
    config.mutable_audit()->set_origin(origin);
    EXPECT_THAT(FinishGatewayConfig("g.textproto", &config),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("audit.origin")));
  }
  config.mutable_audit()->clear_origin();
  // Found by fuzz/config_fuzzer: a number that names no durability.
  config.mutable_audit()->set_durability(static_cast<v1::Durability>(30));
  EXPECT_THAT(FinishGatewayConfig("g.textproto", &config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("audit.durability 30")));
  config.mutable_audit()->clear_durability();
  ASSERT_THAT(FinishGatewayConfig("g.textproto", &config), IsOk());
  EXPECT_FALSE(config.has_json_api());  // the REST/JSON face is off unless configured

  config.mutable_json_api();
  EXPECT_THAT(FinishGatewayConfig("g.textproto", &config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("json_api.listen_address")));
  config.set_listen_address("127.0.0.1:8443");
  config.mutable_json_api()->set_listen_address("127.0.0.1:8443");
  EXPECT_THAT(FinishGatewayConfig("g.textproto", &config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must differ")));
  config.mutable_json_api()->set_listen_address("127.0.0.1:8444");
  config.mutable_json_api()->set_threads(5000);
  EXPECT_THAT(FinishGatewayConfig("g.textproto", &config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("json_api.threads")));
  config.mutable_json_api()->clear_threads();
  ASSERT_THAT(FinishGatewayConfig("g.textproto", &config), IsOk());
  EXPECT_EQ(config.json_api().threads(), 16u);
  EXPECT_EQ(config.json_api().idle_timeout_seconds(), 30u);
}

TEST(GatewayConfigTest, GrantQuotaShareIsAPartOfOne) {
  v1::GatewayConfig config;
  config.set_listen_address("127.0.0.1:0");
  config.set_trust_domain("ndx.test");
  config.mutable_tls()->set_ca_file("a");
  config.mutable_tls()->set_cert_file("b");
  config.mutable_tls()->set_key_file("c");
  config.set_data_dir("d");
  ASSERT_THAT(FinishGatewayConfig("g.textproto", &config), IsOk());
  EXPECT_EQ(config.grant_quotas().share(), 1.0);
  config.mutable_grant_quotas()->set_share(0.25);
  ASSERT_THAT(FinishGatewayConfig("g.textproto", &config), IsOk());
  EXPECT_EQ(config.grant_quotas().share(), 0.25);
  for (double share : {-0.5, 1.5, std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity()}) {
    config.mutable_grant_quotas()->set_share(share);
    EXPECT_THAT(FinishGatewayConfig("g.textproto", &config),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("g.textproto: grant_quotas.share is "),
                               HasSubstr("it must be more than 0 and at most 1"))))
        << share;
  }
}

TEST(GatewayConfigTest, MetricsAreOffUnlessConfiguredAndLoopbackUnlessAllowed) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("gateway.textproto");
  ASSERT_THAT(WriteFileAtomically(path, kConfig, 0644), IsOk());
  absl::StatusOr<v1::GatewayConfig> config = LoadGatewayConfig(path);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->metrics().listen_address(), "");

  ASSERT_THAT(WriteFileAtomically(path,
                                  std::string(kConfig) +
                                      "metrics { listen_address: \"127.0.0.1:9464\" scrapers: "
                                      "\"ndx/prometheus\" }\n",
                                  0644),
              IsOk());
  config = LoadGatewayConfig(path);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->metrics().listen_address(), "127.0.0.1:9464");

  ASSERT_THAT(WriteFileAtomically(path,
                                  std::string(kConfig) +
                                      "metrics { listen_address: \"0.0.0.0:9464\" scrapers: "
                                      "\"ndx/prometheus\" }\n",
                                  0644),
              IsOk());
  EXPECT_THAT(LoadGatewayConfig(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(path), HasSubstr("metrics.allow_non_loopback"))));

  ASSERT_THAT(
      WriteFileAtomically(
          path, std::string(kConfig) + "metrics { listen_address: \"127.0.0.1:9464\" }\n", 0644),
      IsOk());
  EXPECT_THAT(LoadGatewayConfig(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metrics.scrapers is empty")));
}

TEST(GatewayConfigTest, OverloadSettingsHaveProtectiveDefaults) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("gateway.textproto");
  ASSERT_THAT(WriteFileAtomically(path, std::string(kConfig) + R"(
node_limits {
  defaults { calls: 100 }
  nodes { key: "moh/insurance" value { connections: 32 } }
  transport { max_connection_idle_ms: 500 }
}
owner_guard { max_in_flight_by_owner { key: "mops/population" value: 0 } }
)",
                                  0644),
              IsOk());
  absl::StatusOr<v1::GatewayConfig> config = LoadGatewayConfig(path);
  ASSERT_THAT(config, IsOk());
  const v1::NodeLimitsConfig& limits = config->node_limits();
  EXPECT_EQ(limits.defaults().calls(), 100u);
  EXPECT_EQ(limits.defaults().streams(), 16u);
  EXPECT_EQ(limits.defaults().subscriptions(), 64u);
  EXPECT_EQ(limits.defaults().connections(), 8u);
  // A node's own caps default to the configured defaults.
  const v1::NodeCaps& insurance = limits.nodes().at("moh/insurance");
  EXPECT_EQ(insurance.calls(), 100u);
  EXPECT_EQ(insurance.connections(), 32u);
  EXPECT_EQ(limits.transport().max_connection_idle_ms(), 500u);
  EXPECT_EQ(limits.transport().max_connection_age_ms(), 0u);
  EXPECT_EQ(limits.transport().max_concurrent_streams(), 100u);
  EXPECT_EQ(limits.transport().keepalive_time_ms(), 60000u);
  EXPECT_EQ(limits.transport().keepalive_timeout_ms(), 20000u);
  EXPECT_EQ(limits.transport().min_client_ping_interval_ms(), 30000u);
  EXPECT_EQ(limits.transport().max_ping_strikes(), 2u);

  const v1::OwnerGuardConfig& guard = config->owner_guard();
  EXPECT_EQ(guard.max_in_flight(), 128u);
  EXPECT_EQ(guard.max_in_flight_by_owner().at("mops/population"), 128u);
  EXPECT_EQ(guard.caller_share_percent(), 50u);
  EXPECT_EQ(guard.circuit().failures_to_open(), 5u);
  EXPECT_EQ(guard.circuit().open_ms(), 10000u);
  EXPECT_FALSE(guard.circuit().disabled());
  EXPECT_EQ(guard.deadline_shedding().min_samples(), 20u);
  EXPECT_EQ(guard.deadline_shedding().window_seconds(), 60u);
  EXPECT_FALSE(guard.deadline_shedding().disabled());

  NodeLimitsOptions options = NodeLimitsOptionsFrom(limits);
  EXPECT_EQ(options.defaults.calls, 100);
  EXPECT_EQ(options.nodes.at("moh/insurance").connections, 32);
  OwnerGuardOptions guards = OwnerGuardOptionsFrom(guard);
  EXPECT_EQ(guards.circuit.open_for, absl::Seconds(10));
  EXPECT_EQ(guards.shedding.window, absl::Seconds(60));
}

TEST(GatewayConfigTest, OverloadSettingsOutOfRangeAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {"node_limits { nodes { key: \"ops\" value { calls: 1 } } }", "node_limits.nodes"},
      {"node_limits { defaults { calls: 5000000 } }", "node_limits.defaults.calls 5000000"},
      {"node_limits { nodes { key: \"moh/insurance\" value { streams: 2000000 } } }",
       "node_limits.nodes[\"moh/insurance\"].streams"},
      {"node_limits { transport { keepalive_time_ms: 4000000000 } }",
       "node_limits.transport.keepalive_time_ms"},
      {"node_limits { transport { max_connection_age_ms: 4000000000 } }", "max_connection_age_ms"},
      {"owner_guard { max_in_flight_by_owner { key: \"x\" value: 1 } }",
       "owner_guard.max_in_flight_by_owner"},
      {"owner_guard { deadline_shedding { min_samples: 65 } }",
       "owner_guard.deadline_shedding.min_samples 65 is larger than 64"},
      {"owner_guard { circuit { open_ms: 3000000000 } }", "owner_guard.circuit.open_ms"},
      {"owner_guard { caller_share_percent: 101 }",
       "owner_guard.caller_share_percent 101 is larger than 100"},
  };
  ndx::testing::TempDir dir;
  std::string path = dir.Join("gateway.textproto");
  for (const auto& [setting, message] : cases) {
    ASSERT_THAT(WriteFileAtomically(path, std::string(kConfig) + setting + "\n", 0644), IsOk());
    EXPECT_THAT(LoadGatewayConfig(path),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)))
        << setting;
  }
}

}  // namespace
}  // namespace ndx::gateway
