// Every kind of certificate a peer may present, one valid and the rest broken in one way each,
// against the two servers of the platform: a node presenting it to the gateway, a gateway
// presenting it to an adapter, and an adapter presenting it to the gateway that calls it.
//
// Each row states how it ends. A refusal is always a failed handshake (the call ends UNAVAILABLE
// before any service runs), made either by TLS itself (chain, validity, an extended key usage
// that excludes the role), or by ndx's leaf rules, in which case the refusing process logs the
// rule: the refused side cannot be told, the operator of the refusing side can.

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/schema.h"
#include "integration/fake_adapter.h"
#include "integration/federation.h"
#include "ndx/v1/adapter.grpc.pb.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPurpose[] = "health-insurance-enrolment";
constexpr char kKey[] = "001090000001";

enum class Outcome {
  kAccepted,     // the call succeeds
  kTlsRefused,   // TLS fails the handshake before ndx's verifier runs: nothing is logged
  kRuleRefused,  // ndx's verifier fails the handshake and logs `rule`
};

struct Row {
  CertificateDefect defect;
  Outcome outcome;
  std::string rule;
};

// A certificate presented by a client: a node to the gateway, the gateway to an adapter. The
// identity differs, the rules do not.
const std::vector<Row>& ClientRows() {
  static const auto* rows = new std::vector<Row>{
      {CertificateDefect::kNone, Outcome::kAccepted, ""},
      {CertificateDefect::kExpired, Outcome::kTlsRefused, ""},
      {CertificateDefect::kNotYetValid, Outcome::kTlsRefused, ""},
      {CertificateDefect::kOtherCa, Outcome::kTlsRefused, ""},
      {CertificateDefect::kOtherTrustDomain, Outcome::kRuleRefused,
       "client certificate identity spiffe://other.test/"},
      {CertificateDefect::kTwoUris, Outcome::kRuleRefused, "client certificate has 2 URI SANs"},
      {CertificateDefect::kDnsSanOnly, Outcome::kRuleRefused, "client certificate has 0 URI SANs"},
      {CertificateDefect::kCaLeaf, Outcome::kRuleRefused, "client certificate is a CA certificate"},
      {CertificateDefect::kNoExtensions, Outcome::kRuleRefused,
       "client certificate has no extensions"},
      // OpenSSL checks a present extendedKeyUsage against the TLS role itself.
      {CertificateDefect::kServerAuthOnly, Outcome::kTlsRefused, ""},
      // An absent one means "any usage" to OpenSSL: the leaf rules refuse it.
      {CertificateDefect::kNoExtendedKeyUsage, Outcome::kRuleRefused,
       "client certificate lacks the clientAuth extended key usage"},
  };
  return *rows;
}

// A certificate presented by an adapter to the gateway, which expects the owner's identity
// spiffe://ndx.test/node/mops/population.
const std::vector<Row>& ServerRows() {
  static const auto* rows = new std::vector<Row>{
      {CertificateDefect::kNone, Outcome::kAccepted, ""},
      {CertificateDefect::kExpired, Outcome::kTlsRefused, ""},
      {CertificateDefect::kNotYetValid, Outcome::kTlsRefused, ""},
      {CertificateDefect::kOtherCa, Outcome::kTlsRefused, ""},
      {CertificateDefect::kOtherTrustDomain, Outcome::kRuleRefused,
       "server certificate has URI SANs {spiffe://other.test/node/mops/population}; expected "
       "exactly {spiffe://ndx.test/node/mops/population}"},
      {CertificateDefect::kTwoUris, Outcome::kRuleRefused, "server certificate has 2 URI SANs"},
      {CertificateDefect::kDnsSanOnly, Outcome::kRuleRefused, "server certificate has 0 URI SANs"},
      {CertificateDefect::kCaLeaf, Outcome::kRuleRefused, "server certificate is a CA certificate"},
      {CertificateDefect::kNoExtensions, Outcome::kRuleRefused,
       "server certificate has no extensions"},
      {CertificateDefect::kClientAuthOnly, Outcome::kTlsRefused, ""},
      {CertificateDefect::kNoExtendedKeyUsage, Outcome::kRuleRefused,
       "server certificate lacks the serverAuth extended key usage"},
  };
  return *rows;
}

// A channel presenting `files` as they are (ndx's own credentials would refuse to present a bad
// certificate), trusting the platform CA and checking nothing else of the server, each on its
// own connection: a failure is the server refusing the certificate.
std::shared_ptr<grpc::Channel> ChannelPresenting(const std::string& address,
                                                 const crypto::TlsFilePaths& files) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, PresentingAsIs(files), args);
}

// Waits up to five seconds for `log()` to hold `text` past `offset`: the refusing process logs
// from its handshake thread, which need not have written before the refused call returned.
template <typename Log>
bool LogsAfter(const Log& log, size_t offset, const std::string& text) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (true) {
    std::string written = log();
    if (written.size() > offset && absl::StrContains(written.substr(offset), text)) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

class CertificateMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    // The rows make one owner's adapter fail on purpose, one after another: each must reach the
    // handshake, not the circuit breaker that such a run of failures opens.
    ASSERT_THAT(federation_.StartGateway(absl::Seconds(2), 0,
                                         "owner_guard { circuit { disabled: true } }\n"),
                IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
  }

  // Checks one row of a client matrix: `call` ended with `status`, and `log` (the refusing
  // process's) gained the rule, or no refusal at all.
  template <typename Log>
  static void ExpectRow(const Row& row, const grpc::Status& status, const Log& log, size_t offset,
                        const std::string& refusal_line) {
    switch (row.outcome) {
      case Outcome::kAccepted:
        EXPECT_TRUE(status.ok()) << status.error_message();
        EXPECT_THAT(log().substr(offset), Not(HasSubstr(refusal_line)));
        break;
      case Outcome::kTlsRefused:
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
        EXPECT_THAT(log().substr(offset), Not(HasSubstr(refusal_line)));
        break;
      case Outcome::kRuleRefused:
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
        EXPECT_TRUE(LogsAfter(log, offset, absl::StrCat(refusal_line, row.rule)))
            << "expected \"" << refusal_line << row.rule << "\" in:\n"
            << log().substr(offset);
        break;
    }
  }

  Federation federation_;
};

TEST_F(CertificateMatrixTest, NodeCertificatesPresentedToTheGateway) {
  auto log = [this] { return federation_.GatewayLog(); };
  for (const Row& row : ClientRows()) {
    SCOPED_TRACE(DefectName(row.defect));
    crypto::TlsFilePaths files = federation_.pki().WithDefect(
        crypto::SpiffeId::Node(TestPki::kTrustDomain, kInsuranceNode), row.defect);
    size_t offset = log().size();
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    v1::ListNodesResponse response;
    grpc::Status status =
        v1::Registry::NewStub(ChannelPresenting(federation_.gateway_address(), files))
            ->ListNodes(&context, v1::ListNodesRequest(), &response);
    ExpectRow(row, status, log, offset, "refused a TLS client: ");
    if (row.outcome == Outcome::kAccepted) {
      EXPECT_GT(response.nodes_size(), 0);
    }
  }
}

TEST_F(CertificateMatrixTest, GatewayCertificatesPresentedToAnAdapter) {
  auto log = [this] { return federation_.AdapterLog(); };
  for (const Row& row : ClientRows()) {
    SCOPED_TRACE(DefectName(row.defect));
    crypto::TlsFilePaths files = federation_.pki().WithDefect(
        crypto::SpiffeId::Gateway(TestPki::kTrustDomain, "core"), row.defect);
    size_t offset = log().size();
    v1::FetchRequest request;
    request.mutable_context()->set_caller(kInsuranceNode);
    request.mutable_context()->set_purpose(kPurpose);
    request.mutable_context()->set_request_id("certificate-matrix");
    request.set_dataset(kResidents);
    request.set_key(kKey);
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    v1::FetchResponse response;
    grpc::Status status =
        v1::Adapter::NewStub(ChannelPresenting(federation_.population_endpoint(), files))
            ->Fetch(&context, request, &response);
    ExpectRow(row, status, log, offset, "refused a TLS client: ");
    if (row.outcome == Outcome::kAccepted) {
      EXPECT_FALSE(response.record().empty());
    }
  }
}

// A population.v1.Resident with the key asked and a name, as the owner's adapter would answer.
std::string ResidentRecord() {
  auto schema = *Schema::Load(*CompileProtoFile("resident.proto", kResidentProto));
  const google::protobuf::Descriptor* descriptor = *schema->FindMessage("population.v1.Resident");
  std::unique_ptr<google::protobuf::Message> message = schema->NewMessage(descriptor);
  const google::protobuf::Reflection* reflection = message->GetReflection();
  reflection->SetString(message.get(), descriptor->FindFieldByName("citizen_id"), kKey);
  reflection->SetString(message.get(), descriptor->FindFieldByName("full_name"), "Nguyen Van An");
  return message->SerializeAsString();
}

// The gateway calling an adapter that presents each certificate: the consumer's read fails as
// "adapter unavailable" and the adapter is never called, or it is served.
TEST_F(CertificateMatrixTest, AdapterCertificatesPresentedToTheGateway) {
  ASSERT_THAT(
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
      IsOk());
  auto log = [this] { return federation_.GatewayLog(); };
  for (const Row& row : ServerRows()) {
    SCOPED_TRACE(DefectName(row.defect));
    FakeAdapter adapter(
        federation_.pki().WithDefect(crypto::SpiffeId::Node(TestPki::kTrustDomain, kPopulationNode),
                                     row.defect),
        [](const v1::FetchRequest&, v1::FetchResponse* response) {
          response->set_record(ResidentRecord());
          return grpc::Status::OK;
        },
        FakeAdapter::Presenting::kAsIs);
    ASSERT_THAT(federation_.RegisterNodesAndResidents(adapter.endpoint()), IsOk());
    size_t offset = log().size();
    v1::GetRequest request;
    request.set_dataset(kResidents);
    request.set_key(kKey);
    request.set_purpose(kPurpose);
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    v1::GetResponse response;
    grpc::Status status = federation_.ExchangeAs(kInsuranceNode)->Get(&context, request, &response);
    ExpectRow(row, status, log, offset, "refused a TLS server: ");
    if (row.outcome == Outcome::kAccepted) {
      EXPECT_EQ(adapter.fetch_count(), 1);
    } else {
      EXPECT_THAT(status.error_message(),
                  HasSubstr(absl::StrCat("the adapter of ", kPopulationNode, " at ",
                                         adapter.endpoint(), " is unavailable")));
      EXPECT_EQ(adapter.fetch_count(), 0);
    }
  }
}

}  // namespace
}  // namespace ndx::testing
