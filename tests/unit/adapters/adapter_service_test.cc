#include "adapters/adapter_service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "adapters/adapter_server.h"
#include "crypto/tls.h"
#include "test_data.h"
#include "testing/status_matchers.h"
#include "testing/test_pki.h"

namespace ndx::adapters {
namespace {

using ::ndx::adapters::testing::ParseRecord;
using ::ndx::adapters::testing::PopulationData;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::ndx::testing::TestPki;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class AdapterServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::TlsFilePaths tls = pki_.Node("pop/registry");
    v1::AdapterConfig config = data_.Config();
    config.mutable_tls()->set_ca_file(tls.ca_file);
    config.mutable_tls()->set_cert_file(tls.cert_file);
    config.mutable_tls()->set_key_file(tls.key_file);
    absl::StatusOr<LoadedAdapterConfig> loaded = LoadAdapterConfig(config, data_.config_path());
    ASSERT_THAT(loaded, IsOk());
    config_ = *std::move(loaded);
    absl::StatusOr<std::unique_ptr<AdapterServer>> server = AdapterServer::Start(config_);
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
  }

  // A stub calling as `client`, expecting the adapter to present its node identity.
  std::unique_ptr<v1::Adapter::Stub> StubAs(const crypto::TlsFilePaths& client) {
    return StubAt(server_->port(), client);
  }
  static std::unique_ptr<v1::Adapter::Stub> StubAt(int port, const crypto::TlsFilePaths& client) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        crypto::MakeChannelCredentials(
            client, crypto::SpiffeId::Node(TestPki::kTrustDomain, "pop/registry"));
    EXPECT_THAT(credentials, IsOk());
    return v1::Adapter::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), *credentials));
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  static v1::FetchRequest FetchOf(const std::string& dataset, const std::string& key) {
    v1::FetchRequest request;
    request.mutable_context()->set_caller("moh/insurance");
    request.mutable_context()->set_purpose("health-insurance");
    request.mutable_context()->set_request_id("req-1");
    request.set_dataset(dataset);
    request.set_key(key);
    return request;
  }

  TestPki pki_;
  PopulationData data_;
  LoadedAdapterConfig config_;
  std::unique_ptr<AdapterServer> server_;
};

TEST_F(AdapterServiceTest, GatewayFetches) {
  auto stub = StubAs(pki_.Gateway("core"));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::FetchRequest request = FetchOf("pop/people", "001");
  request.add_fields("full_name");
  request.add_fields("birth_year");
  v1::FetchResponse response;
  grpc::Status status = stub->Fetch(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(ParseRecord(config_.datasets.at("pop/people"), response.record())->ShortDebugString(),
            "full_name: \"Nguyen Van A\" birth_year: 1980");
}

TEST_F(AdapterServiceTest, GatewaySearchesPageByPage) {
  auto stub = StubAs(pki_.Gateway("core"));
  v1::SearchRequest request;
  request.set_dataset("pop/people");
  v1::Filter* filter = request.add_filters();
  filter->set_field("province");
  filter->set_value("DN");
  request.set_page_size(20);
  int total = 0;
  int pages = 0;
  do {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::SearchResponse response;
    grpc::Status status = stub->Search(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    total += response.records_size();
    ++pages;
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty() && pages < 10);
  EXPECT_EQ(total, PopulationData::kPagingRows);
  EXPECT_EQ(pages, 2);
}

TEST_F(AdapterServiceTest, ErrorsKeepTheirCodeAndMessage) {
  auto stub = StubAs(pki_.Gateway("core"));
  struct Case {
    v1::FetchRequest request;
    grpc::StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {FetchOf("pop/deaths", "001"), grpc::StatusCode::FAILED_PRECONDITION,
       "not served by this adapter"},
      {FetchOf("pop/people", "404"), grpc::StatusCode::NOT_FOUND, "has no record"},
      {FetchOf("pop/households", "abc"), grpc::StatusCode::INVALID_ARGUMENT, "expects int64"},
      {FetchOf("pop/people", ""), grpc::StatusCode::INVALID_ARGUMENT, "key is empty"},
  };
  for (const Case& c : cases) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::FetchResponse response;
    grpc::Status status = stub->Fetch(&context, c.request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.request.ShortDebugString();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
}

// What the gateway receives: a status whose message names datasets, fields and columns but carries
// no key, filter value or stored value.
TEST_F(AdapterServiceTest, ErrorsThatReachTheGatewayCarryNoValue) {
  auto stub = StubAs(pki_.Gateway("core"));
  const struct {
    v1::FetchRequest request;
    std::string value;
  } fetches[] = {
      {FetchOf("pop/people", "001099999999"), "001099999999"},
      {FetchOf("pop/households", "079099999999x"), "079099999999"},
      {FetchOf("pop/people", "999"), "nineteen"},  // the row's birth_year is stored as text
  };
  for (const auto& c : fetches) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::FetchResponse response;
    grpc::Status status = stub->Fetch(&context, c.request, &response);
    EXPECT_FALSE(status.ok()) << c.request.ShortDebugString();
    EXPECT_THAT(status.error_message(), Not(HasSubstr(c.value)));
  }

  v1::SearchRequest search;
  search.set_dataset("pop/people");
  v1::Filter* filter = search.add_filters();
  filter->set_field("birth_year");
  filter->set_value("1990-04-12");
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::SearchResponse response;
  grpc::Status status = stub->Search(&context, search, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              AllOf(HasSubstr("field \"birth_year\" expects int32"), Not(HasSubstr("1990-04-12"))));
}

// Every call is logged at debug level, whether it ran on gRPC's thread (a SQLite Fetch) or on the
// service's own (a Search), with its request id, caller and dataset, never its key; with debug
// off nothing is written.
TEST_F(AdapterServiceTest, CallsAreLoggedAtDebugLevelWithoutTheKey) {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "ndx-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
  spdlog::set_level(spdlog::level::debug);
  auto stub = StubAs(pki_.Gateway("core"));
  auto fetch = [&] {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::FetchResponse response;
    EXPECT_EQ(stub->Fetch(&context, FetchOf("pop/people", "001099999999"), &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  };
  fetch();
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::SearchRequest search;
    search.set_dataset("pop/people");
    search.mutable_context()->set_request_id("req-2");
    v1::Filter* filter = search.add_filters();
    filter->set_field("province");
    filter->set_value("DN");
    v1::SearchResponse response;
    grpc::Status status = stub->Search(&context, search, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  spdlog::set_level(spdlog::level::info);
  fetch();
  spdlog::set_default_logger(previous);

  std::vector<std::string> calls;
  for (absl::string_view line : absl::StrSplit(out.str(), '\n', absl::SkipEmpty())) {
    if (absl::StrContains(line, "request_id=")) calls.emplace_back(line);
  }
  ASSERT_EQ(calls.size(), 2u) << out.str();
  EXPECT_THAT(calls[0], HasSubstr("Fetch request_id=req-1 caller=moh/insurance dataset=pop/people "
                                  "code=NOT_FOUND"));
  EXPECT_THAT(calls[1], HasSubstr("Search request_id=req-2"));
  EXPECT_THAT(out.str(), Not(HasSubstr("001099999999")));
}

// A database that stalls: each read waits until Release().
class StalledBackend final : public Backend {
 public:
  absl::Status CheckBinding(const Binding&) override { return absl::OkStatus(); }
  absl::StatusOr<std::string> Fetch(const Binding&, absl::string_view,
                                    const std::vector<std::string>&, absl::Time) override {
    absl::MutexLock lock(&mutex_);
    ++waiting_;
    mutex_.Await(absl::Condition(&released_));
    return std::string();
  }
  absl::StatusOr<SearchPage> Search(const Binding&, const std::vector<FieldFilter>&,
                                    const std::vector<std::string>&, int, const std::string&,
                                    absl::Time) override {
    return SearchPage();
  }
  // Whether `reads` reads are waiting at once, within a minute.
  bool AwaitWaiting(int reads) {
    absl::MutexLock lock(&mutex_);
    auto enough = [this, reads]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return waiting_ >= reads; };
    return mutex_.AwaitWithTimeout(absl::Condition(&enough), absl::Minutes(1));
  }
  void Release() {
    absl::MutexLock lock(&mutex_);
    released_ = true;
  }

 private:
  absl::Mutex mutex_;
  int waiting_ ABSL_GUARDED_BY(mutex_) = 0;
  bool released_ ABSL_GUARDED_BY(mutex_) = false;
};

// Reads that wait on a database run on the service's own threads but for one: more of them wait
// at once than gRPC has threads polling, and a SQLite read is answered meanwhile.
TEST_F(AdapterServiceTest, AStalledDatabaseHoldsAtMostOneGrpcThread) {
  auto stalled = std::make_shared<StalledBackend>();
  LoadedAdapterConfig config = config_;
  config.datasets["pop/stalled"] = ServedDataset{config.datasets.at("pop/people").binding, stalled};
  absl::StatusOr<std::unique_ptr<AdapterServer>> server = AdapterServer::Start(config);
  ASSERT_THAT(server, IsOk());
  auto stub = StubAt((*server)->port(), pki_.Gateway("core"));
  constexpr int kStalledReads = 8;
  std::vector<std::thread> readers;
  for (int i = 0; i < kStalledReads; ++i) {
    readers.emplace_back([&] {
      grpc::ClientContext context;
      SetDeadline(&context);
      v1::FetchResponse response;
      EXPECT_TRUE(stub->Fetch(&context, FetchOf("pop/stalled", "001"), &response).ok());
    });
  }
  EXPECT_TRUE(stalled->AwaitWaiting(kStalledReads));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::FetchResponse response;
  grpc::Status status = stub->Fetch(&context, FetchOf("pop/people", "001"), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  stalled->Release();
  for (std::thread& reader : readers) reader.join();
}

TEST_F(AdapterServiceTest, NodeIsRefused) {
  auto stub = StubAs(pki_.Node("moh/insurance"));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::FetchResponse response;
  grpc::Status status = stub->Fetch(&context, FetchOf("pop/people", "001"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("spiffe://ndx.test/node/moh/insurance"));
  EXPECT_THAT(status.error_message(), HasSubstr("not a gateway"));
  EXPECT_TRUE(response.record().empty());

  grpc::ClientContext search_context;
  SetDeadline(&search_context);
  v1::SearchRequest search;
  search.set_dataset("pop/people");
  v1::SearchResponse found;
  EXPECT_EQ(stub->Search(&search_context, search, &found).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(found.records_size(), 0);
}

TEST_F(AdapterServiceTest, GatewayNotInAllowedGatewaysIsRefused) {
  auto stub = StubAs(pki_.Gateway("edge"));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::FetchResponse response;
  grpc::Status status = stub->Fetch(&context, FetchOf("pop/people", "001"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("allowed_gateways"));
}

TEST_F(AdapterServiceTest, DrainedServiceRefusesNewCalls) {
  AdapterService service(config_);
  EXPECT_TRUE(service.Drain(absl::Now() + absl::Seconds(1)));
  // Served on a server of its own, with the adapter's credentials and options.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      crypto::MakeServerCredentials(config_.tls, config_.trust_domain);
  ASSERT_THAT(credentials, IsOk());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", *credentials, &port);
  builder.RegisterService(&service);
  ApplyAdapterServerOptions(config_.max_message_bytes, &builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = StubAt(port, pki_.Gateway("core"));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::FetchResponse response;
  grpc::Status status = stub->Fetch(&context, FetchOf("pop/people", "001"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("stopping"));
  server->Shutdown(std::chrono::system_clock::now());
}

TEST_F(AdapterServiceTest, ShutdownDoesNotWaitForIdleConnections) {
  auto stub = StubAs(pki_.Gateway("core"));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::FetchResponse response;
  ASSERT_TRUE(stub->Fetch(&context, FetchOf("pop/people", "001"), &response).ok());
  absl::Time start = absl::Now();
  server_->Shutdown(absl::Seconds(10));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// The adapter serves the gateway: a certificate the gateway would refuse, or one of another trust
// domain than its own, stops the start, naming the file and the rule.
TEST(AdapterServerTest, CertificateTheGatewayWouldRefuseStopsTheStart) {
  TestPki pki;
  PopulationData data;
  const crypto::SpiffeId owner = crypto::SpiffeId::Node(TestPki::kTrustDomain, "pop/registry");
  struct Case {
    ndx::testing::CertificateDefect defect;
    const char* trust_domain;
    const char* rule;
  };
  for (const Case& c : {Case{ndx::testing::CertificateDefect::kClientAuthOnly, "ndx.test",
                             "server certificate lacks the serverAuth extended key usage"},
                        Case{ndx::testing::CertificateDefect::kNoExtensions, "ndx.test",
                             "server certificate has no extensions"},
                        Case{ndx::testing::CertificateDefect::kNone, "other.test",
                             "is not of trust domain other.test"}}) {
    crypto::TlsFilePaths tls = pki.WithDefect(owner, c.defect);
    v1::AdapterConfig config = data.Config();
    config.set_trust_domain(c.trust_domain);
    config.mutable_tls()->set_ca_file(tls.ca_file);
    config.mutable_tls()->set_cert_file(tls.cert_file);
    config.mutable_tls()->set_key_file(tls.key_file);
    absl::StatusOr<LoadedAdapterConfig> loaded = LoadAdapterConfig(config, data.config_path());
    ASSERT_THAT(loaded, IsOk());
    EXPECT_THAT(AdapterServer::Start(*loaded),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         AllOf(HasSubstr(tls.cert_file + " would be refused by its peers: "),
                               HasSubstr(c.rule))))
        << ndx::testing::DefectName(c.defect);
  }
}

TEST(AuthorizeGatewayTest, Decisions) {
  const std::vector<std::string> core = {"core"};
  EXPECT_THAT(AuthorizeGateway(crypto::SpiffeId::Gateway("ndx.test", "core"), "ndx.test", core),
              IsOk());
  EXPECT_THAT(AuthorizeGateway(crypto::SpiffeId::Gateway("ndx.test", "edge"), "ndx.test", core),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("allowed_gateways")));
  // No list allows nobody (LoadAdapterConfig refuses one, but the check does not rely on it).
  EXPECT_THAT(AuthorizeGateway(crypto::SpiffeId::Gateway("ndx.test", "core"), "ndx.test", {}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("allowed_gateways")));
  EXPECT_THAT(AuthorizeGateway(crypto::SpiffeId::Gateway("other.test", "core"), "ndx.test", core),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("trust domain ndx.test")));
  EXPECT_THAT(
      AuthorizeGateway(crypto::SpiffeId::Node("ndx.test", "mops/population"), "ndx.test", core),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not a gateway")));
  EXPECT_THAT(AuthorizeGateway(absl::UnauthenticatedError("no certificate"), "ndx.test", core),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no certificate")));
}

}  // namespace
}  // namespace ndx::adapters
