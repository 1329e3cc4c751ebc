// Prometheus metrics end to end: a real ndx-gateway and ndx-adapter serving /metrics over mTLS,
// scraped with curl after a known workload.

#include <fcntl.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "integration/federation.h"
#include "ndx/v1/events.grpc.pb.h"
#include "testing/prometheus_text.h"
#include "testing/status_matchers.h"

extern char** environ;

namespace ndx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPurpose[] = "health-insurance-enrolment";
constexpr char kScraper[] = "ndx/prometheus";
// Keys of the workload; none may appear in what is scraped.
constexpr char kKnownKey[] = "001090000001";
constexpr char kMissingKey[] = "001099999999";

struct CurlResult {
  int exit_code = -1;
  // What --write-out printed: the HTTP status, "000" when there was no answer.
  std::string http_code;
  std::string body;
  std::string error;
};

// Runs `curl` against https://127.0.0.1:`port`/metrics, checking the server's certificate
// against the platform CA (the test PKI's certificates carry the IP SAN 127.0.0.1) and
// presenting `client` when given.
CurlResult Curl(const TempDir& dir, int port, const crypto::TlsFilePaths* client,
                const std::string& ca_file) {
  static int runs = 0;
  const std::string base = dir.Join(absl::StrCat("curl.", ++runs));
  std::vector<std::string> args = {"curl",         "--silent",    "--show-error", "--max-time",
                                   "20",           "--cacert",    ca_file,        "--output",
                                   base + ".body", "--write-out", "%{http_code}"};
  if (client != nullptr) {
    args.insert(args.end(), {"--cert", client->cert_file, "--key", client->key_file});
  }
  args.push_back(absl::StrCat("https://127.0.0.1:", port, "/metrics"));
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, (base + ".out").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, (base + ".err").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  CurlResult result;
  const int spawned = posix_spawnp(&pid, "curl", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    result.error = "cannot run curl; scripts/install-deps.sh installs it";
    return result;
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  result.http_code = ReadFile(base + ".out").value_or("");
  result.body = ReadFile(base + ".body").value_or("");
  result.error = ReadFile(base + ".err").value_or("");
  return result;
}

// Events.Subscribe held open, without acknowledging anything, until destroyed.
class OpenSubscription {
 public:
  OpenSubscription(std::shared_ptr<grpc::Channel> channel, const std::string& dataset)
      : stub_(v1::Events::NewStub(std::move(channel))) {
    v1::SubscribeRequest request;
    request.set_dataset(dataset);
    request.set_purpose(kPurpose);
    reader_ = stub_->Subscribe(&context_, request);
    // The subscription is durable once the stream has started.
    reader_->WaitForInitialMetadata();
  }
  ~OpenSubscription() {
    context_.TryCancel();
    reader_->Finish().ok();
  }

 private:
  std::unique_ptr<v1::Events::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader_;
};

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    federation_.EnableMetrics({kScraper});
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    // Checkpoints every second, so that the test soon sees one cover the whole log.
    ASSERT_THAT(
        federation_.StartGateway(absl::Seconds(2), 0, "audit { checkpoint_interval_seconds: 1 }\n"),
        IsOk());
    ASSERT_GT(federation_.gateway_metrics_port(), 0);
    ASSERT_GT(federation_.adapter_metrics_port(), 0);
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
  }

  // Scrapes with the scraper's certificate and parses what came back.
  PrometheusText Scrape(int port) {
    crypto::TlsFilePaths scraper = federation_.pki().Node(kScraper);
    CurlResult result = Curl(federation_.dir(), port, &scraper, scraper.ca_file);
    EXPECT_EQ(result.exit_code, 0) << result.error;
    EXPECT_EQ(result.http_code, "200") << result.body;
    EXPECT_THAT(result.body, Not(HasSubstr(kKnownKey)));
    EXPECT_THAT(result.body, Not(HasSubstr(kMissingKey)));
    absl::StatusOr<PrometheusText> text = PrometheusText::Parse(result.body);
    EXPECT_THAT(text.status(), IsOk());
    return text.ok() ? *std::move(text) : PrometheusText();
  }

  grpc::Status Publish(const std::string& key) {
    v1::PublishRequest request;
    request.set_dataset(kResidents);
    request.set_key(key);
    request.set_type("residence.registered");
    v1::PublishResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    return v1::Events::NewStub(federation_.ChannelAs(kPopulationNode))
        ->Publish(&context, request, &response);
  }

  // The decision log's lines, one per audit record.
  std::vector<nlohmann::json> Decisions() {
    std::vector<nlohmann::json> decisions;
    for (absl::string_view line :
         absl::StrSplit(federation_.DecisionLog(), '\n', absl::SkipEmpty())) {
      decisions.push_back(nlohmann::json::parse(line));
    }
    return decisions;
  }

  Federation federation_;
};

TEST_F(MetricsTest, AKnownWorkloadIsCountedExactly) {
  ASSERT_THAT(
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
      IsOk());
  auto insurance = federation_.ExchangeAs(kInsuranceNode);
  // Five allowed reads.
  for (int i = 0; i < 5; ++i) {
    grpc::Status status = GetResident(*insurance, kKnownKey, kPurpose);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  // Two denied: no grant at all, and a purpose the grant does not name.
  auto civil = federation_.ExchangeAs(kCivilNode);
  ASSERT_EQ(GetResident(*civil, kKnownKey, kPurpose).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_EQ(GetResident(*insurance, kKnownKey, "marketing").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // One the adapter fails: no such record.
  ASSERT_EQ(GetResident(*insurance, kMissingKey, kPurpose).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // A subscription that is sent two events and acknowledges none.
  OpenSubscription subscription(federation_.ChannelAs(kInsuranceNode), kResidents);
  ASSERT_TRUE(Publish("001090000002").ok());
  ASSERT_TRUE(Publish("001090000004").ok());

  PrometheusText gateway = Scrape(federation_.gateway_metrics_port());
  auto requests = [&](const std::string& decision, const std::string& code) {
    return gateway
        .Value("ndx_gateway_requests_total",
               {{"service", "Exchange"}, {"method", "Get"}, {"decision", decision}, {"code", code}})
        .value_or(-1);
  };
  EXPECT_EQ(requests("allow", "OK"), 5);
  EXPECT_EQ(requests("deny", "PERMISSION_DENIED"), 2);
  EXPECT_EQ(requests("deny", "NOT_FOUND"), 1);
  EXPECT_EQ(gateway.Sum("ndx_gateway_requests_total", {{"service", "Exchange"}}), 8);
  EXPECT_EQ(gateway
                .Value("ndx_gateway_request_duration_seconds_count",
                       {{"service", "Exchange"}, {"method", "Get"}})
                .value_or(-1),
            8);
  EXPECT_EQ(
      gateway
          .Value(
              "ndx_gateway_requests_total",
              {{"service", "Events"}, {"method", "Publish"}, {"decision", "allow"}, {"code", "OK"}})
          .value_or(-1),
      2);
  EXPECT_EQ(gateway
                .Value("ndx_gateway_requests_total", {{"service", "Registry"},
                                                      {"method", "RegisterNode"},
                                                      {"decision", "allow"},
                                                      {"code", "OK"}})
                .value_or(-1),
            3);

  // Only the allowed reads and the one without a record reached the adapter.
  const std::map<std::string, std::string> fetch = {{"owner", kPopulationNode},
                                                    {"method", "Fetch"}};
  EXPECT_EQ(gateway
                .Value("ndx_gateway_adapter_calls_total",
                       {{"owner", kPopulationNode}, {"method", "Fetch"}, {"code", "OK"}})
                .value_or(-1),
            5);
  EXPECT_EQ(gateway
                .Value("ndx_gateway_adapter_calls_total",
                       {{"owner", kPopulationNode}, {"method", "Fetch"}, {"code", "NOT_FOUND"}})
                .value_or(-1),
            1);
  EXPECT_EQ(gateway.Sum("ndx_gateway_adapter_calls_total"), 6);
  EXPECT_EQ(gateway.Value("ndx_gateway_adapter_call_duration_seconds_count", fetch).value_or(-1),
            6);

  // Every decision is one audit record: the decision log, the log's entries, the appends and the
  // requests counted agree.
  std::vector<nlohmann::json> decisions = Decisions();
  ASSERT_FALSE(decisions.empty());
  const double recorded = static_cast<double>(decisions.size());
  EXPECT_EQ(gateway.Sum("ndx_gateway_requests_total"), recorded);
  EXPECT_EQ(gateway.Value("ndx_audit_append_duration_seconds_count").value_or(-1), recorded);
  EXPECT_EQ(gateway.Value("ndx_audit_log_entries").value_or(-1), recorded);
  EXPECT_EQ(gateway.Value("ndx_audit_append_failures_total").value_or(-1), 0);
  EXPECT_GT(gateway.Value("ndx_audit_log_disk_bytes").value_or(-1), 0);
  // The registry has not changed since the last decision.
  EXPECT_EQ(gateway.Value("ndx_registry_revision").value_or(-1),
            decisions.back()["registry_revision"].get<double>());

  EXPECT_EQ(
      gateway.Value("ndx_events_backlog", {{"subscriber", kInsuranceNode}, {"dataset", kResidents}})
          .value_or(-1),
      2);

  const double gateway_certificate =
      gateway
          .Single("ndx_certificate_expiry_seconds",
                  {{"role", "certificate"},
                   {"file", federation_.pki().Gateway("core").cert_file},
                   {"identity", "spiffe://ndx.test/gateway/core"}})
          .value_or(-1);
  EXPECT_GT(gateway_certificate, 0);
  EXPECT_LE(gateway_certificate, absl::ToDoubleSeconds(absl::Hours(24 * 365)));
  EXPECT_EQ(gateway.Find("ndx_certificate_expiry_seconds", {{"role", "ca"}}).size(), 1u);

  // The adapter saw the same six reads.
  PrometheusText adapter = Scrape(federation_.adapter_metrics_port());
  EXPECT_EQ(adapter
                .Value("ndx_adapter_requests_total",
                       {{"method", "Fetch"}, {"dataset", kResidents}, {"code", "OK"}})
                .value_or(-1),
            5);
  EXPECT_EQ(adapter
                .Value("ndx_adapter_requests_total",
                       {{"method", "Fetch"}, {"dataset", kResidents}, {"code", "NOT_FOUND"}})
                .value_or(-1),
            1);
  EXPECT_EQ(adapter.Sum("ndx_adapter_requests_total"), 6);
  EXPECT_EQ(adapter
                .Value("ndx_adapter_request_duration_seconds_count",
                       {{"method", "Fetch"}, {"dataset", kResidents}})
                .value_or(-1),
            6);
  EXPECT_EQ(adapter
                .Value("ndx_adapter_backend_duration_seconds_count",
                       {{"method", "Fetch"}, {"dataset", kResidents}})
                .value_or(-1),
            6);
  EXPECT_GT(adapter
                .Single("ndx_certificate_expiry_seconds",
                        {{"role", "certificate"},
                         {"file", federation_.pki().Node(kPopulationNode).cert_file},
                         {"identity", "spiffe://ndx.test/node/mops/population"}})
                .value_or(-1),
            0);
}

TEST_F(MetricsTest, TheCheckpointAgeAppearsOnceACheckpointCoversTheLog) {
  // The log grew at start-up and with the registrations; the checkpointer signs each second
  // while it grows. Wait (without a time bound on the gateway) until a checkpoint covers it all.
  PrometheusText gateway;
  for (int scrape = 0; scrape < 200; ++scrape) {
    gateway = Scrape(federation_.gateway_metrics_port());
    if (gateway.Value("ndx_audit_checkpoint_entries").value_or(-1) ==
        gateway.Value("ndx_audit_log_entries").value_or(-2)) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(gateway.Value("ndx_audit_checkpoint_entries").value_or(-1),
            gateway.Value("ndx_audit_log_entries").value_or(-2));
  EXPECT_GT(gateway.Value("ndx_audit_log_entries").value_or(-1), 0);
  absl::StatusOr<double> age = gateway.Value("ndx_audit_checkpoint_age_seconds");
  ASSERT_THAT(age.status(), IsOk());
  EXPECT_GE(*age, 0);
}

TEST_F(MetricsTest, AScrapeWithoutACertificateOrByAnotherNodeIsRefused) {
  const std::string ca_file = federation_.pki().ca_file();
  for (int port : {federation_.gateway_metrics_port(), federation_.adapter_metrics_port()}) {
    CurlResult anonymous = Curl(federation_.dir(), port, nullptr, ca_file);
    EXPECT_NE(anonymous.exit_code, 0) << port;
    EXPECT_THAT(anonymous.body, Not(HasSubstr("ndx_")));

    crypto::TlsFilePaths insurance = federation_.pki().Node(kInsuranceNode);
    CurlResult other = Curl(federation_.dir(), port, &insurance, ca_file);
    EXPECT_EQ(other.exit_code, 0) << other.error;
    EXPECT_EQ(other.http_code, "403");
    EXPECT_THAT(other.body, HasSubstr("not a node listed in metrics.scrapers"));
    EXPECT_THAT(other.body, Not(HasSubstr("ndx_")));
  }
}

}  // namespace
}  // namespace ndx::testing
