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
#include <optional>
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

using ::ndx::testing::CertificateDefect;
using ::ndx::testing::DefectName;

constexpr char kTrustDomain[] = "ndx.test";

// What CheckLeafCertificate says of a certificate with `defect`, in `role`: "" when it accepts it
// (chain and validity are TLS's checks, not the leaf rules), else the start of its message.
std::string ExpectedRefusal(CertificateDefect defect, PeerRole role) {
  const std::string who = role == PeerRole::kClient ? "client certificate " : "server certificate ";
  switch (defect) {
    case CertificateDefect::kNone:
    case CertificateDefect::kExpired:
    case CertificateDefect::kNotYetValid:
    case CertificateDefect::kOtherCa:
      return "";
    case CertificateDefect::kOtherTrustDomain:
      return who +
             "identity spiffe://other.test/node/moh/insurance is not of trust domain ndx.test";
    case CertificateDefect::kTwoUris:
      return who +
             "has 2 URI SANs {spiffe://ndx.test/node/moh/insurance, "
             "spiffe://ndx.test/gateway/second-uri}; it must have exactly one, its ndx SPIFFE id";
    case CertificateDefect::kDnsSanOnly:
      return who + "has 0 URI SANs {}; it must have exactly one";
    case CertificateDefect::kCaLeaf:
      return who + "is a CA certificate (basicConstraints CA:TRUE or keyUsage keyCertSign)";
    case CertificateDefect::kNoExtensions:
      return who + "has no extensions";
    case CertificateDefect::kClientAuthOnly:
      return role == PeerRole::kClient
                 ? ""
                 : who +
                       "lacks the serverAuth extended key usage; reissue it with `ndxctl pki "
                       "issue`, which sets clientAuth and serverAuth";
    case CertificateDefect::kServerAuthOnly:
      return role == PeerRole::kServer ? "" : who + "lacks the clientAuth extended key usage";
    case CertificateDefect::kNoExtendedKeyUsage:
      return who + (role == PeerRole::kClient ? "lacks the clientAuth extended key usage"
                                              : "lacks the serverAuth extended key usage");
  }
  return "unreachable";
}

constexpr CertificateDefect kAllDefects[] = {
    CertificateDefect::kNone,
    CertificateDefect::kExpired,
    CertificateDefect::kNotYetValid,
    CertificateDefect::kOtherCa,
    CertificateDefect::kOtherTrustDomain,
    CertificateDefect::kTwoUris,
    CertificateDefect::kDnsSanOnly,
    CertificateDefect::kCaLeaf,
    CertificateDefect::kNoExtensions,
    CertificateDefect::kClientAuthOnly,
    CertificateDefect::kServerAuthOnly,
    CertificateDefect::kNoExtendedKeyUsage,
};

TEST(CheckLeafCertificateTest, NamesTheBrokenRule) {
  ndx::testing::TestPki pki;
  const SpiffeId identity = SpiffeId::Node(kTrustDomain, "moh/insurance");
  for (CertificateDefect defect : kAllDefects) {
    const std::string pem = *ReadFile(pki.WithDefect(identity, defect).cert_file);
    for (PeerRole role : {PeerRole::kClient, PeerRole::kServer}) {
      SCOPED_TRACE(
          absl::StrCat(DefectName(defect), role == PeerRole::kClient ? " client" : " server"));
      const std::string refusal = ExpectedRefusal(defect, role);
      absl::StatusOr<SpiffeId> id = CheckLeafCertificate(pem, role, kTrustDomain);
      if (refusal.empty()) {
        ASSERT_THAT(id, IsOk());
        EXPECT_EQ(*id, identity);
      } else {
        EXPECT_THAT(id, StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr(refusal)));
      }
    }
  }
}

TEST(CheckLeafCertificateTest, TrustDomainIsCheckedOnlyWhenGiven) {
  ndx::testing::TestPki pki;
  const std::string pem = *ReadFile(
      pki.WithDefect(SpiffeId::Gateway(kTrustDomain, "core"), CertificateDefect::kOtherTrustDomain)
          .cert_file);
  EXPECT_THAT(CheckLeafCertificate(pem, PeerRole::kServer, ""), IsOk());
  EXPECT_THAT(CheckLeafCertificate(pem, PeerRole::kServer, "other.test"), IsOk());
  EXPECT_THAT(CheckLeafCertificate(pem, PeerRole::kServer, kTrustDomain),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not of trust domain")));
  EXPECT_THAT(CheckLeafCertificate("no PEM here", PeerRole::kClient, kTrustDomain),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PEM certificate")));
}

// `ndxctl pki issue` (IssueCertificate) makes certificates that pass both sets of rules: nodes
// and gateways are clients and servers.
TEST(CheckLeafCertificateTest, IssuedCertificatesAreClientsAndServers) {
  ndx::testing::TestPki pki;
  for (const TlsFilePaths& files : {pki.Node("moh/insurance"), pki.Gateway("core")}) {
    const std::string pem = *ReadFile(files.cert_file);
    EXPECT_THAT(CheckLeafCertificate(pem, PeerRole::kClient, kTrustDomain), IsOk());
    EXPECT_THAT(CheckLeafCertificate(pem, PeerRole::kServer, kTrustDomain), IsOk());
  }
}

class TlsTest : public ::testing::Test {
 protected:
  // Serves IdentityEchoAdapter on 127.0.0.1, port 0, with `files`.
  void StartServer(const TlsFilePaths& files) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        MakeServerCredentials(files, kTrustDomain);
    ASSERT_THAT(credentials, IsOk());
    StartServerWith(*credentials);
  }

  // Serves with `files` as they are, past our own checks, verifying client chains only: a server
  // presenting a certificate its clients must refuse.
  void StartServerPresentingAsIs(const TlsFilePaths& files) {
    grpc::SslServerCredentialsOptions options(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    options.pem_root_certs = *ReadFile(pki_.ca_file());
    options.pem_key_cert_pairs.push_back({*ReadFile(files.key_file), *ReadFile(files.cert_file)});
    StartServerWith(grpc::SslServerCredentials(options));
  }

  void StartServerWith(const std::shared_ptr<grpc::ServerCredentials>& credentials) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", credentials, &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  void TearDown() override { StopServer(); }

  void StopServer() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_.reset();
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

  // A client presenting `files` as they are, past our own checks, trusting the platform CA and
  // checking nothing else of the server: a failure is the server refusing the client.
  grpc::Status FetchPresentingAsIs(const TlsFilePaths& files) {
    return Fetch(ndx::testing::PresentingAsIs({pki_.ca_file(), files.cert_file, files.key_file}));
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

// Every defect the leaf rules name fails the handshake at the server: the client's call ends
// UNAVAILABLE, the service is never called. The valid certificate is served.
TEST_F(TlsTest, ClientBreakingALeafRuleFailsHandshake) {
  StartServer(pki_.Gateway("gw"));
  int served = 0;
  for (CertificateDefect defect : kAllDefects) {
    if (ExpectedRefusal(defect, PeerRole::kClient).empty() && defect != CertificateDefect::kNone) {
      continue;  // TLS's own checks, tested above
    }
    grpc::Status status =
        FetchPresentingAsIs(pki_.WithDefect(SpiffeId::Node(kTrustDomain, "moh/insurance"), defect));
    if (defect == CertificateDefect::kNone) {
      EXPECT_TRUE(status.ok()) << status.error_message();
      ++served;
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << DefectName(defect);
    }
    EXPECT_EQ(service_.calls(), served) << DefectName(defect);
  }
}

// ... and at the client, which also says which rule the server broke.
// Pinned or not: a client that pins no identity still applies the leaf rules.
TEST_F(TlsTest, ServerBreakingALeafRuleFailsHandshake) {
  const SpiffeId server = SpiffeId::Node(kTrustDomain, "moh/insurance");
  for (CertificateDefect defect : kAllDefects) {
    std::string refusal = ExpectedRefusal(defect, PeerRole::kServer);
    std::vector<std::optional<SpiffeId>> pins = {std::nullopt, server};
    // OpenSSL refuses clientAuth alone before our verifier runs: see the next test.
    if (refusal.empty() || defect == CertificateDefect::kClientAuthOnly) continue;
    // A server's trust domain is that of the identity its client pins; without a pin, any
    // identity the platform CA signed is accepted.
    if (defect == CertificateDefect::kOtherTrustDomain) {
      refusal = absl::StrCat("expected exactly {", server.ToString(), "}");
      pins = {server};
    }
    SCOPED_TRACE(DefectName(defect));
    StopServer();
    StartServerPresentingAsIs(pki_.WithDefect(server, defect));
    for (const std::optional<SpiffeId>& expected : pins) {
      grpc::Status status = FetchAs(pki_.Node("mof/tax"), expected);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
      EXPECT_THAT(status.error_message(), HasSubstr(refusal));
    }
    EXPECT_EQ(service_.calls(), 0);
  }
}

// OpenSSL refuses an extended key usage that excludes the role before our verifier runs.
TEST_F(TlsTest, ServerWithClientAuthOnlyFailsHandshake) {
  StartServerPresentingAsIs(
      pki_.WithDefect(SpiffeId::Gateway(kTrustDomain, "gw"), CertificateDefect::kClientAuthOnly));
  grpc::Status status = FetchAs(pki_.Node("mof/tax"), TestGateway("gw"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(service_.calls(), 0);
}

// A process refuses to present a certificate its peers would refuse, naming the file and rule.
TEST_F(TlsTest, OwnCertificateBreakingALeafRuleIsRefused) {
  TlsFilePaths client_only =
      pki_.WithDefect(SpiffeId::Gateway(kTrustDomain, "gw"), CertificateDefect::kClientAuthOnly);
  EXPECT_THAT(MakeServerCredentials(client_only, kTrustDomain),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(absl::StrCat(client_only.cert_file,
                                              " would be refused by its peers: server certificate "
                                              "lacks the serverAuth extended key usage"))));
  EXPECT_THAT(MakeChannelCredentials(client_only, std::nullopt), IsOk());

  TlsFilePaths server_only =
      pki_.WithDefect(SpiffeId::Node(kTrustDomain, "moh/a"), CertificateDefect::kServerAuthOnly);
  EXPECT_THAT(MakeChannelCredentials(server_only, std::nullopt),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("client certificate lacks the clientAuth extended key usage")));
  EXPECT_THAT(MakeServerCredentials(server_only, kTrustDomain), IsOk());

  // The server's own identity must be of the trust domain it serves; a client's, of the trust
  // domain of the server it expects.
  TlsFilePaths node = pki_.Node("moh/a");
  EXPECT_THAT(MakeServerCredentials(node, "other.test"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is not of trust domain other.test")));
  EXPECT_THAT(MakeChannelCredentials(node, SpiffeId::Gateway("other.test", "gw")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is not of trust domain other.test")));
  EXPECT_THAT(MakeServerCredentials(node, ""), StatusIs(absl::StatusCode::kInvalidArgument));
}

// (Expecting a server of another trust domain than our own is refused before any handshake: see
// OwnCertificateBreakingALeafRuleIsRefused.)
TEST_F(TlsTest, WrongExpectedServerFailsHandshake) {
  StartServer(pki_.Gateway("gw"));
  for (const SpiffeId& expected : {TestGateway("other"), SpiffeId::Node("ndx.test", "gw/gw")}) {
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

TEST_F(TlsTest, KeyFileOpenToOthersIsRefused) {
  TlsFilePaths files = pki_.Node("moh/insurance");
  ASSERT_EQ(::chmod(files.key_file.c_str(), 0644), 0);
  EXPECT_THAT(MakeServerCredentials(files, kTrustDomain),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("chmod 600")));
  EXPECT_THAT(MakeChannelCredentials(files, std::nullopt),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("0644")));
  for (const char* mode : {"0640", "0604"}) {
    ASSERT_EQ(::chmod(files.key_file.c_str(), std::stoi(mode, nullptr, 8)), 0);
    const std::string hint =
        absl::StrCat("key file ", files.key_file, " has mode ", mode,
                     " and is open to group or others; run: chmod 600 ", files.key_file);
    EXPECT_THAT(MakeServerCredentials(files, kTrustDomain),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(hint)));
    EXPECT_THAT(MakeChannelCredentials(files, std::nullopt),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(hint)));
  }
  for (int mode : {0600, 0400}) {
    ASSERT_EQ(::chmod(files.key_file.c_str(), mode), 0);
    EXPECT_THAT(MakeServerCredentials(files, kTrustDomain), IsOk()) << mode;
    EXPECT_THAT(MakeChannelCredentials(files, std::nullopt), IsOk()) << mode;
  }
}

TEST_F(TlsTest, BadFilesAreRefused) {
  TlsFilePaths node = pki_.Node("moh/insurance");
  TlsFilePaths other = pki_.Gateway("gw");
  EXPECT_THAT(MakeServerCredentials({node.ca_file, node.cert_file, other.key_file}, kTrustDomain),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
  EXPECT_THAT(MakeServerCredentials({node.ca_file, node.cert_file, pki_.dir() + "/missing.key"},
                                    kTrustDomain),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.key")));
  EXPECT_THAT(MakeChannelCredentials({node.ca_file, node.key_file, node.key_file}, std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PEM certificate")));
  EXPECT_THAT(MakeChannelCredentials({node.ca_file, "", node.key_file}, std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must all be set")));
}

}  // namespace
}  // namespace ndx::crypto
