#include "gateway/gateway_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gateway/gateway_config.h"
#include "testing/prometheus_text.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;

// A gateway started in this process on 127.0.0.1:0, with its data in a temporary directory.
class GatewayServerKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::TlsFilePaths tls = pki_.Gateway("core");
    config_.set_listen_address("127.0.0.1:0");
    config_.set_trust_domain("ndx.test");
    config_.mutable_tls()->set_ca_file(tls.ca_file);
    config_.mutable_tls()->set_cert_file(tls.cert_file);
    config_.mutable_tls()->set_key_file(tls.key_file);
    config_.set_data_dir(dir_.Join("data"));
    config_.mutable_audit()->set_durability(v1::DURABILITY_PROCESS_CRASH);
    ASSERT_THAT(FinishGatewayConfig("test", &config_), IsOk());
  }

  // Starts the gateway and stops it at once; the start's status.
  absl::Status StartAndStop() {
    absl::StatusOr<std::unique_ptr<GatewayServer>> gateway = GatewayServer::Start(config_);
    if (!gateway.ok()) return gateway.status();
    (*gateway)->Shutdown(absl::ZeroDuration());
    return absl::OkStatus();
  }

  ndx::testing::TempDir dir_;
  ndx::testing::TestPki pki_;
  v1::GatewayConfig config_;
};

// Whoever reads the pseudonym key can turn the audit log's pseudonyms back into citizen
// identifiers; whoever reads the checkpoint key can sign over a rewritten log. Both are made 0600
// on first start and refused afterwards when group or others may access them.
TEST_F(GatewayServerKeysTest, AuditKeysOpenToGroupOrOthersStopTheStart) {
  ASSERT_THAT(StartAndStop(), IsOk());
  for (const std::string& key :
       {config_.audit().pseudonym_key_file(), config_.audit().signing_key_file()}) {
    for (const char* mode : {"0640", "0604"}) {
      ASSERT_EQ(::chmod(key.c_str(), std::stoi(mode, nullptr, 8)), 0);
      EXPECT_THAT(StartAndStop(),
                  StatusIs(absl::StatusCode::kFailedPrecondition,
                           absl::StrCat("key file ", key, " has mode ", mode,
                                        " and is open to group or others; run: chmod 600 ", key)));
    }
    for (int mode : {0600, 0400}) {
      ASSERT_EQ(::chmod(key.c_str(), mode), 0);
      EXPECT_THAT(StartAndStop(), IsOk()) << key << " " << mode;
    }
  }
}

TEST_F(GatewayServerKeysTest, AuditKeysAreMadePrivate) {
  ASSERT_THAT(StartAndStop(), IsOk());
  for (const std::string& key :
       {config_.audit().pseudonym_key_file(), config_.audit().signing_key_file()}) {
    struct stat st;
    ASSERT_EQ(::stat(key.c_str(), &st), 0) << key;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << key;
  }
}

// The gateway serves nodes and calls adapters with one certificate: one that either side would
// refuse stops the start, naming the file and the rule.
TEST_F(GatewayServerKeysTest, CertificateItsPeersWouldRefuseStopsTheStart) {
  using ::ndx::testing::CertificateDefect;
  using ::testing::HasSubstr;
  const crypto::SpiffeId core = crypto::SpiffeId::Gateway("ndx.test", "core");
  struct Case {
    CertificateDefect defect;
    const char* rule;
  };
  for (const Case& c :
       {Case{CertificateDefect::kClientAuthOnly, "server certificate lacks the serverAuth"},
        Case{CertificateDefect::kServerAuthOnly, "client certificate lacks the clientAuth"},
        Case{CertificateDefect::kCaLeaf, "server certificate is a CA certificate"}}) {
    crypto::TlsFilePaths tls = pki_.WithDefect(core, c.defect);
    config_.mutable_tls()->set_cert_file(tls.cert_file);
    config_.mutable_tls()->set_key_file(tls.key_file);
    EXPECT_THAT(
        StartAndStop(),
        StatusIs(absl::StatusCode::kFailedPrecondition,
                 ::testing::AllOf(HasSubstr(tls.cert_file + " would be refused by its peers: "),
                                  HasSubstr(c.rule))))
        << ndx::testing::DefectName(c.defect);
  }
}

// What a gateway serves at /metrics, right after its start.
class GatewayServerMetricsTest : public GatewayServerKeysTest {};

TEST_F(GatewayServerMetricsTest, NoListenerUnlessConfigured) {
  absl::StatusOr<std::unique_ptr<GatewayServer>> gateway = GatewayServer::Start(config_);
  ASSERT_THAT(gateway.status(), IsOk());
  EXPECT_EQ((*gateway)->metrics_port(), 0);
}

TEST_F(GatewayServerMetricsTest, ServesTheStateAndTheStartUpsDecisions) {
  config_.add_bootstrap_operators("ndx/ops");
  config_.mutable_metrics()->set_listen_address("127.0.0.1:0");
  config_.mutable_metrics()->add_scrapers("ndx/prometheus");
  absl::StatusOr<std::unique_ptr<GatewayServer>> gateway = GatewayServer::Start(config_);
  ASSERT_THAT(gateway.status(), IsOk());
  ASSERT_GT((*gateway)->metrics_port(), 0);

  crypto::TlsFilePaths scraper = pki_.Node("ndx/prometheus");
  httplib::SSLClient client("127.0.0.1", (*gateway)->metrics_port(), scraper.cert_file,
                            scraper.key_file);
  client.set_ca_cert_path(scraper.ca_file.c_str());
  client.enable_server_certificate_verification(true);
  httplib::Result result = client.Get("/metrics");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  ASSERT_EQ(result->status, 200) << result->body;
  absl::StatusOr<ndx::testing::PrometheusText> text =
      ndx::testing::PrometheusText::Parse(result->body);
  ASSERT_THAT(text.status(), IsOk());

  // The bootstrap operator's node: one registry write, recorded before it applied.
  EXPECT_EQ(text->Value("ndx_registry_revision").value_or(-1), 1);
  EXPECT_EQ(text->Value("ndx_gateway_requests_total", {{"service", "Registry"},
                                                       {"method", "BootstrapOperators"},
                                                       {"decision", "allow"},
                                                       {"code", "OK"}})
                .value_or(-1),
            1);
  EXPECT_EQ(text->Value("ndx_audit_log_entries").value_or(-1), 1);
  EXPECT_EQ(text->Value("ndx_audit_append_duration_seconds_count").value_or(-1), 1);
  EXPECT_GT(text->Value("ndx_audit_log_disk_bytes").value_or(-1), 0);
  EXPECT_THAT(text->Find("ndx_events_backlog"), ::testing::IsEmpty());
  EXPECT_GT(text->Single("ndx_certificate_expiry_seconds",
                         {{"role", "certificate"},
                          {"file", config_.tls().cert_file()},
                          {"identity", "spiffe://ndx.test/gateway/core"}})
                .value_or(-1),
            0);

  (*gateway)->Shutdown(absl::ZeroDuration());
  EXPECT_FALSE(client.Get("/metrics"));
}

}  // namespace
}  // namespace ndx::gateway
