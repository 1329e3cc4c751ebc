#include "metrics/metrics_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "metrics/gauge_family.h"
#include "testing/prometheus_text.h"
#include "testing/status_matchers.h"
#include "testing/test_pki.h"

namespace ndx::metrics {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::PrometheusText;
using ::ndx::testing::StatusIs;
using ::ndx::testing::TestPki;
using ::testing::HasSubstr;
using ::testing::Not;

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prometheus::BuildCounter()
        .Name("ndx_test_requests_total")
        .Help("requests")
        .Register(registry_)
        .Add({{"code", "OK"}})
        .Increment(5);
    v1::MetricsConfig config;
    config.set_listen_address("127.0.0.1:0");
    config.add_scrapers("ndx/prometheus");
    config.add_scrapers("ndx/ops");
    absl::StatusOr<std::unique_ptr<MetricsServer>> server = MetricsServer::Start(
        {.config = config, .tls = pki_.Gateway("core"), .trust_domain = TestPki::kTrustDomain},
        {&registry_});
    ASSERT_THAT(server.status(), IsOk());
    server_ = *std::move(server);
  }

  // A client presenting `files` that checks the server's certificate against the platform CA
  // and its address (the test PKI's certificates carry the IP SAN 127.0.0.1), as Prometheus does.
  std::unique_ptr<httplib::SSLClient> Client(const crypto::TlsFilePaths& files) {
    auto client = std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port(),
                                                       files.cert_file, files.key_file);
    client->set_ca_cert_path(pki_.ca_file().c_str());
    client->enable_server_certificate_verification(true);
    client->set_connection_timeout(5);
    client->set_read_timeout(5);
    return client;
  }

  TestPki pki_;
  prometheus::Registry registry_;
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, AnswersAListedScraperInTheTextFormat) {
  for (const char* scraper : {"ndx/prometheus", "ndx/ops"}) {
    httplib::Result result = Client(pki_.Node(scraper))->Get("/metrics");
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(result->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    absl::StatusOr<PrometheusText> text = PrometheusText::Parse(result->body);
    ASSERT_THAT(text.status(), IsOk());
    EXPECT_EQ(text->Value("ndx_test_requests_total", {{"code", "OK"}}).value_or(-1), 5);
  }
}

TEST_F(MetricsServerTest, CollectsAtEachScrape) {
  auto client = Client(pki_.Node("ndx/prometheus"));
  prometheus::BuildCounter()
      .Name("ndx_test_requests_total")
      .Help("requests")
      .Register(registry_)
      .Add({{"code", "OK"}})
      .Increment(2);
  httplib::Result result = client->Get("/metrics");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  absl::StatusOr<PrometheusText> text = PrometheusText::Parse(result->body);
  ASSERT_THAT(text.status(), IsOk());
  EXPECT_EQ(text->Value("ndx_test_requests_total", {{"code", "OK"}}).value_or(-1), 7);
}

TEST_F(MetricsServerTest, RefusesAnIdentityNotListed) {
  for (const crypto::TlsFilePaths& files : {pki_.Node("moh/insurance"), pki_.Gateway("core")}) {
    httplib::Result result = Client(files)->Get("/metrics");
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    EXPECT_EQ(result->status, 403);
    EXPECT_THAT(result->body, HasSubstr("not a node listed in metrics.scrapers"));
    EXPECT_THAT(result->body, Not(HasSubstr("ndx_test_requests_total")));
  }
}

TEST_F(MetricsServerTest, RefusesAClientWithoutACertificate) {
  httplib::SSLClient anonymous("127.0.0.1", server_->port());
  anonymous.set_ca_cert_path(pki_.ca_file().c_str());
  anonymous.enable_server_certificate_verification(true);
  httplib::Result result = anonymous.Get("/metrics");
  EXPECT_FALSE(result && result->status == 200);
}

TEST_F(MetricsServerTest, ServesNothingElse) {
  auto client = Client(pki_.Node("ndx/prometheus"));
  httplib::Result other = client->Get("/");
  ASSERT_TRUE(other) << httplib::to_string(other.error());
  EXPECT_EQ(other->status, 404);
  httplib::Result post = client->Post("/metrics", "", "text/plain");
  ASSERT_TRUE(post) << httplib::to_string(post.error());
  EXPECT_EQ(post->status, 405);
}

TEST_F(MetricsServerTest, StopsAndTheAddressIsFreeAgain) {
  const int port = server_->port();
  server_->Stop();
  server_->Stop();
  v1::MetricsConfig config;
  config.set_listen_address(absl::StrCat("127.0.0.1:", port));
  config.add_scrapers("ndx/prometheus");
  absl::StatusOr<std::unique_ptr<MetricsServer>> again = MetricsServer::Start(
      {.config = config, .tls = pki_.Gateway("core"), .trust_domain = TestPki::kTrustDomain},
      {&registry_});
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_EQ((*again)->port(), port);
}

TEST(MetricsServerStartTest, NamesTheListenerInItsErrors) {
  TestPki pki;
  v1::MetricsConfig config;
  config.set_listen_address("127.0.0.1");
  config.add_scrapers("ndx/prometheus");
  EXPECT_THAT(
      MetricsServer::Start(
          {.config = config, .tls = pki.Gateway("core"), .trust_domain = TestPki::kTrustDomain}, {})
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metrics: ")));
}

}  // namespace
}  // namespace ndx::metrics
