#include "crypto/tls.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "ndx/v1/adapter.grpc.pb.h"
#include "testing/status_matchers.h"
#include "testing/test_pki.h"

namespace ndx::crypto {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

// Answers Fetch with the caller's identity as PeerIdentity sees it; counts calls so that tests
// can tell a refused handshake (no call) from a refused call.
class IdentityEchoAdapter final : public v1::Adapter::Service {
 public:
  grpc::Status Fetch(grpc::ServerContext* context, const v1::FetchRequest*,
                     v1::FetchResponse* response) override {
    ++calls_;
    absl::StatusOr<SpiffeId> peer = PeerIdentity(*context->auth_context());
    if (!peer.ok()) {
      return grpc::Status(static_cast<grpc::StatusCode>(peer.status().code()),
                          std::string(peer.status().message()));
    }
    response->set_record(peer->ToString());
    return grpc::Status::OK;
  }
  int calls() const { return calls_; }

 private:
  std::atomic<int> calls_ = 0;
};

// An AuthContext holding given properties, for the cases a real handshake cannot produce.
class FakeAuthContext final : public grpc::AuthContext {
 public:
  using Properties = std::multimap<std::string, std::string>;
  explicit FakeAuthContext(Properties properties) : properties_(std::move(properties)) {}
  bool IsPeerAuthenticated() const override { return !properties_.empty(); }
  std::vector<grpc::string_ref> GetPeerIdentity() const override { return {}; }
  std::string GetPeerIdentityPropertyName() const override { return ""; }
  std::vector<grpc::string_ref> FindPropertyValues(const std::string& name) const override {
    std::vector<grpc::string_ref> values;
    auto [begin, end] = properties_.equal_range(name);
    for (auto it = begin; it != end; ++it) values.emplace_back(it->second);
    return values;
  }
  // PeerIdentity does not iterate; the default iterator is protected, hence the subclass.
  struct EmptyIterator : grpc::AuthPropertyIterator {};
  grpc::AuthPropertyIterator begin() const override { return EmptyIterator(); }
  grpc::AuthPropertyIterator end() const override { return EmptyIterator(); }
  void AddProperty(const std::string&, const grpc::string_ref&) override {}
  bool SetPeerIdentityPropertyName(const std::string&) override { return false; }

 private:
  Properties properties_;
};

TEST(PeerIdentityTest, ReadsPeerSpiffeIdProperty) {
  absl::StatusOr<SpiffeId> id = PeerIdentity(FakeAuthContext(
      FakeAuthContext::Properties{{"x509_pem_cert", "PEM"},
                                  {"peer_uri", "spiffe://ndx.test/node/moh/a"},
                                  {"peer_spiffe_id", "spiffe://ndx.test/node/moh/a"}}));
  ASSERT_THAT(id, IsOk());
  EXPECT_EQ(*id, SpiffeId::Node("ndx.test", "moh/a"));
}

TEST(PeerIdentityTest, RefusesMissingOrForeignIdentity) {
  EXPECT_THAT(PeerIdentity(FakeAuthContext(FakeAuthContext::Properties{})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no TLS certificate")));
  EXPECT_THAT(PeerIdentity(FakeAuthContext(FakeAuthContext::Properties{{"x509_pem_cert", "PEM"}})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("0 URI SANs")));
  EXPECT_THAT(PeerIdentity(FakeAuthContext(
                  {{"x509_pem_cert", "PEM"}, {"peer_spiffe_id", "spiffe://ndx.test/workload/x"}})),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("/node/<agency>/<system>")));
}

class TlsTest : public ::testing::Test {
 protected:
  // Serves IdentityEchoAdapter on 127.0.0.1, port 0, with `files`.
  void StartServer(const TlsFilePaths& files) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        MakeServerCredentials(files);
    ASSERT_THAT(credentials, IsOk());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  // One Fetch over a fresh channel (its own subchannel pool, so no connection is reused);
  // returns the record, which is the identity the server saw.
  grpc::Status Fetch(const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                     std::string* record = nullptr) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    std::unique_ptr<v1::Adapter::Stub> stub = v1::Adapter::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_), credentials, args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::FetchRequest request;
    v1::FetchResponse response;
    grpc::Status status = stub->Fetch(&context, request, &response);
    if (record != nullptr) *record = response.record();
    return status;
  }

  grpc::Status FetchAs(const TlsFilePaths& files, std::optional<SpiffeId> expected_server,
                       std::string* record = nullptr) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        MakeChannelCredentials(files, std::move(expected_server));
    EXPECT_THAT(credentials, IsOk());
    if (!credentials.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no credentials");
    return Fetch(*credentials, record);
  }

  // `files` presenting another identity's certificate and key, still trusting the platform CA:
  // so a failure comes from the peer's verification, not from ours.
  TlsFilePaths TrustingPlatform(const TlsFilePaths& files) {
    return TlsFilePaths{pki_.ca_file(), files.cert_file, files.key_file};
  }

  static SpiffeId TestGateway(const std::string& name) {
    return SpiffeId::Gateway("ndx.test", name);
  }

  ndx::testing::TestPki pki_;
  IdentityEchoAdapter service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// The gateway's certificate has only its URI SAN and we dial 127.0.0.1: host names are not
// checked, the SPIFFE id is.
TEST_F(TlsTest, SameCaClientIsIdentifiedAndHostNameIsNotChecked) {
  StartServer(pki_.Gateway("gw"));
  std::string record;
  grpc::Status status = FetchAs(pki_.Node("moh/insurance"), TestGateway("gw"), &record);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(record, "spiffe://ndx.test/node/moh/insurance");

  status = FetchAs(pki_.Node("mof/tax"), std::nullopt, &record);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(record, "spiffe://ndx.test/node/mof/tax");
  EXPECT_EQ(service_.calls(), 2);
}

TEST_F(TlsTest, ClientWithoutCertificateFailsHandshake) {
  StartServer(pki_.Gateway("gw"));
  namespace exp = grpc::experimental;
  exp::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(
      std::make_shared<exp::StaticDataCertificateProvider>(*ReadFile(pki_.ca_file())));
  options.watch_root_certs();
  options.set_verify_server_certs(true);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<exp::NoOpCertificateVerifier>());
  grpc::Status status = Fetch(exp::TlsCredentials(options));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(service_.calls(), 0);
}

TEST_F(TlsTest, ClientFromOtherCaFailsHandshake) {
  StartServer(pki_.Gateway("gw"));
  grpc::Status status = FetchAs(TrustingPlatform(pki_.OtherCaNode("moh/insurance")), std::nullopt);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  status = FetchAs(TrustingPlatform(pki_.WrongTrustDomainNode("moh/insurance")), std::nullopt);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(service_.calls(), 0);
}

TEST_F(TlsTest, ExpiredClientFailsHandshake) {
  StartServer(pki_.Gateway("gw"));
  grpc::Status status = FetchAs(pki_.ExpiredNode("moh/insurance"), std::nullopt);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(service_.calls(), 0);
}

// gRPC sets no peer_spiffe_id for a certificate with two URI SANs; PeerIdentity must refuse it.
TEST_F(TlsTest, ClientWithTwoUrisIsUnauthenticated) {
  StartServer(pki_.Gateway("gw"));
  grpc::Status status = FetchAs(pki_.TwoUriNode("moh/insurance"), TestGateway("gw"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("2 URI SANs"));
  EXPECT_THAT(status.error_message(), HasSubstr("spiffe://ndx.test/gateway/second-uri"));
  EXPECT_EQ(service_.calls(), 1);
}

TEST_F(TlsTest, WrongExpectedServerFailsHandshake) {
  StartServer(pki_.Gateway("gw"));
  for (const SpiffeId& expected : {TestGateway("other"), SpiffeId::Node("ndx.test", "gw/gw"),
                                   SpiffeId::Gateway("other.test", "gw")}) {
    grpc::Status status = FetchAs(pki_.Node("moh/insurance"), expected);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << expected.ToString();
    EXPECT_THAT(status.error_message(),
                HasSubstr(absl::StrCat("expected exactly {", expected.ToString(), "}")));
  }
  EXPECT_EQ(service_.calls(), 0);
}

TEST_F(TlsTest, ServerFromOtherCaFailsHandshake) {
  StartServer(TrustingPlatform(pki_.OtherCaNode("moh/insurance")));
  grpc::Status status = FetchAs(pki_.Node("mof/tax"), std::nullopt);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(service_.calls(), 0);
}

TEST_F(TlsTest, ServerWithTwoUrisFailsExpectedServerCheck) {
  StartServer(pki_.TwoUriNode("moh/insurance"));
  grpc::Status status = FetchAs(pki_.Node("mof/tax"), SpiffeId::Node("ndx.test", "moh/insurance"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(service_.calls(), 0);
}

TEST_F(TlsTest, KeyFileOpenToOthersIsRefused) {
  TlsFilePaths files = pki_.Node("moh/insurance");
  ASSERT_EQ(::chmod(files.key_file.c_str(), 0644), 0);
  EXPECT_THAT(MakeServerCredentials(files),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("chmod 600")));
  EXPECT_THAT(MakeChannelCredentials(files, std::nullopt),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("0644")));
  for (const char* mode : {"0640", "0604"}) {
    ASSERT_EQ(::chmod(files.key_file.c_str(), std::stoi(mode, nullptr, 8)), 0);
    const std::string hint =
        absl::StrCat("key file ", files.key_file, " has mode ", mode,
                     " and is open to group or others; run: chmod 600 ", files.key_file);
    EXPECT_THAT(MakeServerCredentials(files),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(hint)));
    EXPECT_THAT(MakeChannelCredentials(files, std::nullopt),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(hint)));
  }
  for (int mode : {0600, 0400}) {
    ASSERT_EQ(::chmod(files.key_file.c_str(), mode), 0);
    EXPECT_THAT(MakeServerCredentials(files), IsOk()) << mode;
    EXPECT_THAT(MakeChannelCredentials(files, std::nullopt), IsOk()) << mode;
  }
}

TEST_F(TlsTest, BadFilesAreRefused) {
  TlsFilePaths node = pki_.Node("moh/insurance");
  TlsFilePaths other = pki_.Gateway("gw");
  EXPECT_THAT(MakeServerCredentials({node.ca_file, node.cert_file, other.key_file}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
  EXPECT_THAT(MakeServerCredentials({node.ca_file, node.cert_file, pki_.dir() + "/missing.key"}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.key")));
  EXPECT_THAT(MakeChannelCredentials({node.ca_file, node.key_file, node.key_file}, std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PEM certificate")));
  EXPECT_THAT(MakeChannelCredentials({node.ca_file, "", node.key_file}, std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must all be set")));
}

}  // namespace
}  // namespace ndx::crypto
