// Certificates renewed in place (`ndxctl pki renew`) while a federation serves reads: every
// process presents and accepts the renewed certificates from its next handshake on, without a
// restart, and no call fails.

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "common/files.h"
#include "crypto/pki.h"
#include "integration/federation.h"
#include "ndx/v1/adapter.grpc.pb.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

constexpr char kPurpose[] = "health-insurance-enrolment";

class RotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    ASSERT_THAT(federation_.StartGateway(), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
    ASSERT_THAT(
        federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
        IsOk());
  }

  // A read of the insurance node on `channel`; the server's certificate into `server_pem`.
  static grpc::Status Read(const std::shared_ptr<grpc::Channel>& channel,
                           std::string* server_pem = nullptr) {
    return GetResident(*v1::Exchange::NewStub(channel), "001090000001", kPurpose, nullptr,
                       server_pem);
  }

  // Renews the certificate in `files` in place, as `ndxctl pki renew` does; its new PEM.
  std::string Renew(const crypto::TlsFilePaths& files) {
    absl::StatusOr<std::string> pem =
        crypto::RenewCertificate(federation_.pki().ca_dir(), files.cert_file, absl::Hours(48));
    EXPECT_THAT(pem, IsOk());
    return pem.value_or("");
  }

  Federation federation_;
};

TEST_F(RotationTest, RenewingEveryCertificateUnderLoadFailsNoCall) {
  // The load: reads on a new connection every 10 calls, so that handshakes happen throughout.
  std::atomic<bool> loading{true};
  std::atomic<int> reads{0}, handshakes{0};
  std::atomic<int> failures{0};
  std::string first_failure;
  std::thread load([&] {
    std::shared_ptr<grpc::Channel> channel;
    for (int i = 0; loading.load(); ++i) {
      if (i % 10 == 0) {
        channel = federation_.ChannelAs(kInsuranceNode);
        ++handshakes;
      }
      grpc::Status status = Read(channel);
      if (status.ok()) {
        ++reads;
      } else if (failures++ == 0) {
        first_failure = status.error_message();
      }
    }
  });

  const crypto::TlsFilePaths gateway = federation_.pki().Gateway("core");
  const crypto::TlsFilePaths adapter = federation_.pki().Node(kPopulationNode);
  const crypto::TlsFilePaths consumer = federation_.pki().Node(kInsuranceNode);
  const std::string old_gateway_pem = ReadFile(gateway.cert_file).value_or("");
  absl::SleepFor(absl::Milliseconds(500));
  const std::string new_gateway_pem = Renew(gateway);
  const std::string new_adapter_pem = Renew(adapter);
  const std::string new_consumer_pem = Renew(consumer);
  ASSERT_NE(new_gateway_pem, old_gateway_pem);
  // The files are read again every second.
  absl::SleepFor(absl::Seconds(3));
  loading = false;
  load.join();
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_GT(reads.load(), 0);
  EXPECT_GT(handshakes.load(), 1);

  // A new connection meets the gateway's renewed certificate, and the gateway accepts the
  // consumer's renewed one.
  std::string presented;
  grpc::Status status = Read(federation_.ChannelAs(kInsuranceNode), &presented);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(presented, new_gateway_pem);

  // The adapter presents its renewed certificate to a new connection of the gateway's identity.
  std::string adapter_pem;
  status = FetchResident(federation_.population_endpoint(), gateway, "001090000001", &adapter_pem);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(adapter_pem, new_adapter_pem);
}

}  // namespace
}  // namespace ndx::testing
