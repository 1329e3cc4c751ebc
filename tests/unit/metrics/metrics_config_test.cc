#include "metrics/metrics_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace ndx::metrics {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

v1::MetricsConfig Config(const std::string& address,
                         std::vector<std::string> scrapers = {"ndx/prometheus"}) {
  v1::MetricsConfig config;
  config.set_listen_address(address);
  for (const std::string& scraper : scrapers) config.add_scrapers(scraper);
  return config;
}

TEST(IsLoopbackHostTest, KnowsLoopbackAddressesAndNothingElse) {
  for (const char* host : {"127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost",
                           "::ffff:127.0.0.1", "[::ffff:127.0.0.2]"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "[::]", "10.0.0.10", "128.0.0.1", "::2",
                           "::ffff:10.0.0.1", "gw.ndx.internal", "localhost.", ""}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(CheckMetricsConfigTest, NoAddressMeansNoMetricsAndNothingToCheck) {
  EXPECT_THAT(CheckMetricsConfig(v1::MetricsConfig()), IsOk());
}

TEST(CheckMetricsConfigTest, AcceptsLoopbackWithScrapers) {
  EXPECT_THAT(CheckMetricsConfig(Config("127.0.0.1:9464")), IsOk());
  EXPECT_THAT(CheckMetricsConfig(Config("[::1]:0")), IsOk());
  EXPECT_THAT(CheckMetricsConfig(Config("localhost:9465", {"ndx/prometheus", "ndx/ops"})), IsOk());
}

TEST(CheckMetricsConfigTest, RefusesAnOtherAddressUnlessAllowed) {
  v1::MetricsConfig config = Config("0.0.0.0:9464");
  EXPECT_THAT(CheckMetricsConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("metrics.allow_non_loopback is true")));
  config.set_allow_non_loopback(true);
  EXPECT_THAT(CheckMetricsConfig(config), IsOk());
  config.set_listen_address("gw.ndx.internal:9464");
  EXPECT_THAT(CheckMetricsConfig(config), IsOk());
}

TEST(CheckMetricsConfigTest, RefusesWhatIsNotHostPort) {
  for (const char* address :
       {"127.0.0.1", ":9464", "127.0.0.1:http", "127.0.0.1:65536", "127.0.0.1:-1"}) {
    EXPECT_THAT(CheckMetricsConfig(Config(address)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not host:port")))
        << address;
  }
}

TEST(CheckMetricsConfigTest, NeedsValidScrapers) {
  EXPECT_THAT(CheckMetricsConfig(Config("127.0.0.1:9464", {})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metrics.scrapers is empty")));
  EXPECT_THAT(CheckMetricsConfig(Config("127.0.0.1:9464", {"spiffe://ndx.test/node/ndx/prom"})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metrics.scrapers: ")));
}

}  // namespace
}  // namespace ndx::metrics
