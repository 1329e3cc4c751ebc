#include "adapters/adapter_metrics.h"

#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "adapters/adapter_server.h"
#include "crypto/tls.h"
#include "metrics/exposition.h"
#include "test_data.h"
#include "testing/prometheus_text.h"
#include "testing/status_matchers.h"
#include "testing/test_pki.h"

namespace ndx::adapters {
namespace {

using ::ndx::adapters::testing::PopulationData;
using ::ndx::testing::IsOk;
using ::ndx::testing::PrometheusText;
using ::ndx::testing::StatusIs;
using ::ndx::testing::TestPki;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(AdapterMetricsTest, CountsByMethodServedDatasetAndCode) {
  AdapterMetrics metrics({"pop/people", "pop/households"});
  metrics.ObserveCall(AdapterMetrics::Method::kFetch, "pop/people", absl::StatusCode::kOk,
                      absl::Milliseconds(2));
  metrics.ObserveCall(AdapterMetrics::Method::kFetch, "pop/people", absl::StatusCode::kOk,
                      absl::Milliseconds(3));
  metrics.ObserveCall(AdapterMetrics::Method::kSearch, "pop/households",
                      absl::StatusCode::kInvalidArgument, absl::Milliseconds(1));
  metrics.ObserveBackend(AdapterMetrics::Method::kFetch, "pop/people", absl::Milliseconds(1));
  // A dataset this adapter does not serve: the request's text is not a label.
  metrics.ObserveCall(AdapterMetrics::Method::kFetch, "001090000001/../x",
                      absl::StatusCode::kFailedPrecondition, absl::Milliseconds(1));

  const prometheus::Collectable* sources[] = {&metrics.registry()};
  absl::StatusOr<PrometheusText> text = PrometheusText::Parse(metrics::RenderText(sources));
  ASSERT_THAT(text.status(), IsOk());
  EXPECT_EQ(text->Value("ndx_adapter_requests_total",
                        {{"method", "Fetch"}, {"dataset", "pop/people"}, {"code", "OK"}})
                .value_or(-1),
            2);
  EXPECT_EQ(text->Value("ndx_adapter_requests_total", {{"method", "Search"},
                                                       {"dataset", "pop/households"},
                                                       {"code", "INVALID_ARGUMENT"}})
                .value_or(-1),
            1);
  EXPECT_EQ(
      text->Value("ndx_adapter_requests_total",
                  {{"method", "Fetch"}, {"dataset", "unserved"}, {"code", "FAILED_PRECONDITION"}})
          .value_or(-1),
      1);
  EXPECT_EQ(text->Sum("ndx_adapter_requests_total"), 4);
  EXPECT_EQ(text->Value("ndx_adapter_request_duration_seconds_count",
                        {{"method", "Fetch"}, {"dataset", "pop/people"}})
                .value_or(-1),
            2);
  EXPECT_EQ(text->Value("ndx_adapter_backend_duration_seconds_count",
                        {{"method", "Fetch"}, {"dataset", "pop/people"}})
                .value_or(-1),
            1);
  // Every served dataset's histograms exist from the start.
  EXPECT_EQ(text->Value("ndx_adapter_backend_duration_seconds_count",
                        {{"method", "Search"}, {"dataset", "pop/people"}})
                .value_or(-1),
            0);
}

// A real adapter with metrics: gRPC calls in, a scrape over mTLS out.
class AdapterServerMetricsTest : public ::testing::Test {
 protected:
  absl::StatusOr<LoadedAdapterConfig> Load(const std::string& metrics_address) {
    crypto::TlsFilePaths tls = pki_.Node("pop/registry");
    v1::AdapterConfig config = data_.Config();
    config.mutable_tls()->set_ca_file(tls.ca_file);
    config.mutable_tls()->set_cert_file(tls.cert_file);
    config.mutable_tls()->set_key_file(tls.key_file);
    config.mutable_metrics()->set_listen_address(metrics_address);
    config.mutable_metrics()->add_scrapers("ndx/prometheus");
    return LoadAdapterConfig(config, data_.config_path());
  }

  grpc::Status Fetch(int port, const std::string& dataset, const std::string& key) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        crypto::MakeChannelCredentials(
            pki_.Gateway("core"), crypto::SpiffeId::Node(TestPki::kTrustDomain, "pop/registry"));
    EXPECT_THAT(credentials, IsOk());
    auto stub =
        v1::Adapter::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), *credentials));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::FetchRequest request;
    request.set_dataset(dataset);
    request.set_key(key);
    request.add_fields("full_name");
    v1::FetchResponse response;
    return stub->Fetch(&context, request, &response);
  }

  absl::StatusOr<PrometheusText> Scrape(int port) {
    crypto::TlsFilePaths scraper = pki_.Node("ndx/prometheus");
    httplib::SSLClient client("127.0.0.1", port, scraper.cert_file, scraper.key_file);
    client.set_ca_cert_path(scraper.ca_file.c_str());
    client.enable_server_certificate_verification(true);
    httplib::Result result = client.Get("/metrics");
    if (!result) return absl::UnavailableError(httplib::to_string(result.error()));
    if (result->status != 200) return absl::InternalError(result->body);
    return PrometheusText::Parse(result->body);
  }

  TestPki pki_;
  PopulationData data_;
};

TEST_F(AdapterServerMetricsTest, CountsTheCallsItAnswered) {
  absl::StatusOr<LoadedAdapterConfig> config = Load("127.0.0.1:0");
  ASSERT_THAT(config.status(), IsOk());
  absl::StatusOr<std::unique_ptr<AdapterServer>> server = AdapterServer::Start(*config);
  ASSERT_THAT(server.status(), IsOk());
  const int port = (*server)->port();
  ASSERT_GT((*server)->metrics_port(), 0);

  EXPECT_TRUE(Fetch(port, "pop/people", "001").ok());
  EXPECT_TRUE(Fetch(port, "pop/people", "002").ok());
  EXPECT_EQ(Fetch(port, "pop/people", "404").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Fetch(port, "pop/deaths", "001").error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  absl::StatusOr<PrometheusText> text = Scrape((*server)->metrics_port());
  ASSERT_THAT(text.status(), IsOk());
  EXPECT_EQ(text->Value("ndx_adapter_requests_total",
                        {{"method", "Fetch"}, {"dataset", "pop/people"}, {"code", "OK"}})
                .value_or(-1),
            2);
  EXPECT_EQ(text->Value("ndx_adapter_requests_total",
                        {{"method", "Fetch"}, {"dataset", "pop/people"}, {"code", "NOT_FOUND"}})
                .value_or(-1),
            1);
  EXPECT_EQ(
      text->Value("ndx_adapter_requests_total",
                  {{"method", "Fetch"}, {"dataset", "unserved"}, {"code", "FAILED_PRECONDITION"}})
          .value_or(-1),
      1);
  // The unserved dataset never reached a backend.
  EXPECT_EQ(text->Value("ndx_adapter_backend_duration_seconds_count",
                        {{"method", "Fetch"}, {"dataset", "pop/people"}})
                .value_or(-1),
            3);
  EXPECT_EQ(text->Value("ndx_adapter_backend_duration_seconds_count",
                        {{"method", "Fetch"}, {"dataset", "unserved"}})
                .value_or(-1),
            0);
  EXPECT_GT(text->Single("ndx_certificate_expiry_seconds",
                         {{"role", "certificate"},
                          {"file", config->tls.cert_file},
                          {"identity", "spiffe://ndx.test/node/pop/registry"}})
                .value_or(-1),
            0);
  // The adapter has no gateway state.
  EXPECT_THAT(text->Find("ndx_gateway_requests_total"), IsEmpty());

  (*server)->Shutdown(absl::ZeroDuration());
  EXPECT_FALSE(Scrape((*server)->metrics_port()).ok());
}

TEST_F(AdapterServerMetricsTest, NoListenerUnlessConfigured) {
  absl::StatusOr<LoadedAdapterConfig> config = Load("");
  ASSERT_THAT(config.status(), IsOk());
  absl::StatusOr<std::unique_ptr<AdapterServer>> server = AdapterServer::Start(*config);
  ASSERT_THAT(server.status(), IsOk());
  EXPECT_EQ((*server)->metrics_port(), 0);
}

TEST_F(AdapterServerMetricsTest, TheConfigRefusesANetworkAddressUnlessAllowed) {
  EXPECT_THAT(
      Load("0.0.0.0:9464").status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr(data_.config_path()), HasSubstr("metrics.allow_non_loopback"))));
}

}  // namespace
}  // namespace ndx::adapters
