// Certificate revocation with a real gateway and adapter: a consumer's certificate revoked while
// it reads is refused on its next call over the connection it already has and at its next
// handshake; everyone else goes on.

#include "crypto/revocation.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "common/files.h"
#include "integration/federation.h"
#include "ndx/v1/adapter.grpc.pb.h"
#include "ndx/v1/events.grpc.pb.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

constexpr char kPurpose[] = "health-insurance-enrolment";

class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crl_file_ = federation_.dir().Join("crl.pem");
    ASSERT_THAT(WriteCrl(), IsOk());
    const std::string crl = absl::StrCat("crl_file: \"", crl_file_, "\"\n");
    ASSERT_THAT(federation_.StartPopulationAdapter(crl), IsOk());
    ASSERT_THAT(federation_.StartGateway(absl::Seconds(2), 0, crl), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
    for (const char* consumer : {kInsuranceNode, kCivilNode}) {
      ASSERT_THAT(federation_.Grant(consumer, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
                  IsOk());
    }
  }

  absl::Status WriteCrl() {
    return crypto::WriteRevocationList(federation_.pki().ca_dir(), crl_file_, absl::Hours(24),
                                       absl::Now())
        .status();
  }
  absl::Status Revoke(const crypto::TlsFilePaths& files) {
    absl::Status revoked =
        crypto::RevokeCertificate(federation_.pki().ca_dir(), files.cert_file, absl::Now());
    return revoked.ok() ? WriteCrl() : revoked;
  }

  static grpc::Status Read(v1::Exchange::Stub& exchange) {
    return GetResident(exchange, "001090000001", kPurpose);
  }

  Federation federation_;
  std::string crl_file_;
};

TEST_F(RevocationTest, ARevokedConsumerIsRefusedOnItsOpenConnectionAndOthersAreUntouched) {
  // Both consumers read on connections opened before the revocation.
  auto insurance = federation_.ExchangeAs(kInsuranceNode);
  auto civil = federation_.ExchangeAs(kCivilNode);
  ASSERT_TRUE(Read(*insurance).ok());
  std::atomic<bool> loading{true};
  std::atomic<int> civil_reads{0}, civil_failures{0};
  std::thread other([&] {
    while (loading.load()) (Read(*civil).ok() ? civil_reads : civil_failures)++;
  });

  ASSERT_THAT(Revoke(federation_.pki().Node(kInsuranceNode)), IsOk());
  grpc::Status status;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  do {
    status = Read(*insurance);
  } while (status.ok() && absl::Now() < give_up);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(),
            "the certificate of spiffe://ndx.test/node/moh/insurance has been revoked");

  // A new connection fails its handshake; the gateway's log says why.
  status = Read(*federation_.ExchangeAs(kInsuranceNode));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(ReadFile(federation_.dir().Join("gateway.log")).value_or(""),
                                "client certificate has been revoked"));

  loading = false;
  other.join();
  EXPECT_GT(civil_reads.load(), 0);
  EXPECT_EQ(civil_failures.load(), 0);
  EXPECT_TRUE(Read(*federation_.ExchangeAs(kCivilNode)).ok());
}

TEST_F(RevocationTest, AnAdapterRefusesARevokedGatewayCertificate) {
  // A second certificate of the gateway's identity, then revoked: the adapter refuses it at the
  // handshake while the gateway's own certificate keeps working.
  crypto::TlsFilePaths stolen = federation_.pki().WithDefect(
      crypto::SpiffeId::Gateway(TestPki::kTrustDomain, "core"), CertificateDefect::kNone);
  auto fetch_presenting_stolen = [&] {
    return FetchResident(federation_.population_endpoint(), stolen, "001090000001");
  };
  grpc::Status status = fetch_presenting_stolen();
  ASSERT_TRUE(status.ok()) << status.error_message();

  ASSERT_THAT(Revoke(stolen), IsOk());
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  do {
    status = fetch_presenting_stolen();
  } while (status.ok() && absl::Now() < give_up);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Read(*federation_.ExchangeAs(kInsuranceNode)).ok());
}

TEST_F(RevocationTest, ARevokedSubscribersOpenStreamGetsNoFurtherEvent) {
  auto events = v1::Events::NewStub(federation_.ChannelAs(kInsuranceNode));
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(30));
  v1::SubscribeRequest subscribe;
  subscribe.set_dataset(kResidents);
  subscribe.set_purpose(kPurpose);
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> stream =
      events->Subscribe(&context, subscribe);
  stream->WaitForInitialMetadata();

  ASSERT_THAT(Revoke(federation_.pki().Node(kInsuranceNode)), IsOk());
  absl::SleepFor(absl::Seconds(2));  // the CRL is read again every second
  v1::PublishRequest publish;
  publish.set_dataset(kResidents);
  publish.set_key("001090000004");
  publish.set_type("residence.registered");
  grpc::ClientContext publish_context;
  SetTimeout(&publish_context, absl::Seconds(10));
  v1::PublishResponse published;
  grpc::Status status = v1::Events::NewStub(federation_.ChannelAs(kPopulationNode))
                            ->Publish(&publish_context, publish, &published);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::SubscribeResponse received;
  EXPECT_FALSE(stream->Read(&received)) << received.ShortDebugString();
  status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "delivery of mops/residents stopped: the certificate of node moh/insurance has been "
            "revoked");
}

TEST(RevocationStartTest, AGatewayWithoutItsCrlDoesNotStart) {
  Federation federation;
  absl::Status started =
      federation.StartGateway(absl::Seconds(2), 0, "crl_file: \"missing.pem\"\n");
  EXPECT_FALSE(started.ok());
  EXPECT_THAT(started.message(), ::testing::HasSubstr("missing.pem"));
}

}  // namespace
}  // namespace ndx::testing
