// The gateway's replicas as a client sees them: one address list, calls spread over the
// replicas, and reads retried on another replica when one answers UNAVAILABLE.

#include "cli/gateway_client.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/cli_status.h"
#include "fake_gateway.h"
#include "testing/status_matchers.h"
#include "testing/test_pki.h"

namespace ndx::cli {
namespace {

using ::ndx::testing::IsOk;
using ::testing::HasSubstr;

TEST(GatewayTargetTest, OneAddressIsKeptAsGiven) {
  EXPECT_EQ(*GatewayTarget("gateway.ndx.gov.vn:8443"), "gateway.ndx.gov.vn:8443");
  EXPECT_EQ(*GatewayTarget("dns:///gateway.ndx.gov.vn:8443"), "dns:///gateway.ndx.gov.vn:8443");
  EXPECT_EQ(*GatewayTarget("127.0.0.1:8443"), "127.0.0.1:8443");
}

TEST(GatewayTargetTest, SeveralIpAddressesOfOneFamilyBecomeOneTarget) {
  EXPECT_EQ(*GatewayTarget("10.0.0.1:8443,10.0.0.2:8443,10.0.0.3:9443"),
            "ipv4:10.0.0.1:8443,10.0.0.2:8443,10.0.0.3:9443");
  EXPECT_EQ(*GatewayTarget("[fd00::1]:8443,[fd00::2]:8443"), "ipv6:[fd00::1]:8443,[fd00::2]:8443");
}

TEST(GatewayTargetTest, AListGRpcCannotResolveIsAUsageErrorSayingWhatToGive) {
  for (const char* bad :
       {"gw1.example:8443,gw2.example:8443", "10.0.0.1:8443,[fd00::1]:8443", "10.0.0.1:8443,",
        "10.0.0.1,10.0.0.2", "10.0.0.1:8443,10.0.0.2:0", "[fd00::1:8443,[fd00::2]:8443"}) {
    absl::StatusOr<std::string> target = GatewayTarget(bad);
    ASSERT_FALSE(target.ok()) << bad;
    EXPECT_TRUE(IsUsageError(target.status())) << bad;
    EXPECT_THAT(target.status().message(),
                HasSubstr("give the IP address and port of each replica, all IPv4 or all IPv6"))
        << bad;
  }
}

// Two replicas of the gateway "core" on 127.0.0.1, and a client given both addresses.
class GatewayReplicasTest : public ::testing::Test {
 protected:
  std::unique_ptr<GatewayClient> Connect() {
    ConnectionSettings settings;
    settings.gateway = absl::StrCat(first_.address(), ",", second_.address());
    settings.gateway_id = "core";
    settings.tls = pki_.Node("moh/insurance");
    settings.timeout_ms = 10'000;
    absl::StatusOr<std::unique_ptr<GatewayClient>> client = GatewayClient::Connect(settings);
    EXPECT_THAT(client.status(), IsOk());
    return client.ok() ? *std::move(client) : nullptr;
  }

  static absl::StatusOr<v1::QueryResponse> Query(GatewayClient& client) {
    return client.Call<v1::QueryResponse>([&](auto* context, auto* response) {
      v1::QueryRequest request;
      request.set_dataset("mops/residents");
      request.set_purpose("health-insurance");
      return client.exchange().Query(context, request, response);
    });
  }

  static absl::StatusOr<v1::Node> RegisterNode(GatewayClient& client) {
    return client.Call<v1::Node>([&](auto* context, auto* response) {
      v1::RegisterNodeRequest request;
      request.mutable_node()->set_id("mof/tax");
      return client.registry().RegisterNode(context, request, response);
    });
  }

  testing::TestPki pki_;
  FakeGateway first_{pki_};
  FakeGateway second_{pki_};
};

TEST_F(GatewayReplicasTest, CallsAreSpreadOverTheReplicas) {
  std::unique_ptr<GatewayClient> client = Connect();
  ASSERT_NE(client, nullptr);
  // Until both connections are up, every call goes to the one that is; a bound, not a timing.
  for (int i = 0; i < 200 && (first_.queries().empty() || second_.queries().empty()); ++i) {
    ASSERT_THAT(Query(*client).status(), IsOk());
  }
  EXPECT_FALSE(first_.queries().empty());
  EXPECT_FALSE(second_.queries().empty());
}

// A read that one replica answers UNAVAILABLE is tried again on the other; a write is not, since
// the replica may have applied it.
TEST_F(GatewayReplicasTest, AReadIsRetriedOnAnotherReplicaAndAWriteIsNot) {
  std::unique_ptr<GatewayClient> client = Connect();
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 200 && (first_.queries().empty() || second_.queries().empty()); ++i) {
    ASSERT_THAT(Query(*client).status(), IsOk());
  }
  first_.set_unavailable(true);
  const size_t first_before = first_.queries().size();
  const size_t second_before = second_.queries().size();

  for (int i = 0; i < 20; ++i) ASSERT_THAT(Query(*client).status(), IsOk()) << "read " << i;
  EXPECT_EQ(second_.queries().size() - second_before, 20u);
  EXPECT_GT(first_.queries().size(), first_before) << "no read reached the stopping replica";

  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<v1::Node> registered = RegisterNode(*client);
    if (!registered.ok()) ++refused;
  }
  EXPECT_EQ(refused, first_.register_node_calls());
  EXPECT_EQ(20 - refused, second_.register_node_calls());
  EXPECT_GT(refused, 0) << "no write reached the stopping replica";
}

}  // namespace
}  // namespace ndx::cli
