#include "crypto/spiffe_id.h"

#include <gtest/gtest.h>

#include <string>

#include "testing/status_matchers.h"

namespace ndx::crypto {
namespace {

using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

TEST(SpiffeIdTest, ParsesNode) {
  absl::StatusOr<SpiffeId> id = ParseSpiffeId("spiffe://ndx.gov.vn/node/mops/population");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(id->is_node());
  EXPECT_EQ(id->trust_domain(), "ndx.gov.vn");
  EXPECT_EQ(id->name(), "mops/population");
  EXPECT_EQ(*id, SpiffeId::Node("ndx.gov.vn", "mops/population"));
}

TEST(SpiffeIdTest, ParsesGateway) {
  absl::StatusOr<SpiffeId> id = ParseSpiffeId("spiffe://ndx.test/gateway/gw-1");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(id->is_gateway());
  EXPECT_EQ(id->kind(), SpiffeId::Kind::kGateway);
  EXPECT_EQ(id->trust_domain(), "ndx.test");
  EXPECT_EQ(id->name(), "gw-1");
}

TEST(SpiffeIdTest, RoundTrips) {
  for (const SpiffeId& id :
       {SpiffeId::Node("ndx.test", "moh/insurance"), SpiffeId::Node("a", "0/z-9"),
        SpiffeId::Gateway("ndx.gov.vn", "hanoi-1"),
        SpiffeId::Gateway("x-y.z", std::string(63, 'g'))}) {
    absl::StatusOr<SpiffeId> parsed = ParseSpiffeId(id.ToString());
    ASSERT_TRUE(parsed.ok()) << id.ToString() << ": " << parsed.status();
    EXPECT_EQ(*parsed, id);
    EXPECT_EQ(parsed->ToString(), id.ToString());
  }
  EXPECT_EQ(SpiffeId::Node("ndx.test", "moh/insurance").ToString(),
            "spiffe://ndx.test/node/moh/insurance");
  EXPECT_EQ(SpiffeId::Gateway("ndx.test", "gw").ToString(), "spiffe://ndx.test/gateway/gw");
}

TEST(SpiffeIdTest, NodeAndGatewayDiffer) {
  EXPECT_NE(SpiffeId::Node("ndx.test", "gw"), SpiffeId::Gateway("ndx.test", "gw"));
}

class InvalidSpiffeIdTest : public ::testing::TestWithParam<std::string> {};

TEST_P(InvalidSpiffeIdTest, IsInvalidArgument) {
  EXPECT_THAT(ParseSpiffeId(GetParam()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected spiffe://")));
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, InvalidSpiffeIdTest,
    ::testing::Values(
        "", "spiffe://", "spiffe:///node/a/b", "spiffe://ndx.test", "spiffe://ndx.test/",
        // Wrong or upper-case scheme.
        "https://ndx.test/node/a/b", "SPIFFE://ndx.test/node/a/b", "spiffe:/ndx.test/node/a/b",
        "spiffe:ndx.test/node/a/b",
        // Upper case anywhere.
        "spiffe://NDX.test/node/a/b", "spiffe://ndx.test/Node/a/b", "spiffe://ndx.test/node/A/b",
        // Port, userinfo, query, fragment, percent-encoding.
        "spiffe://ndx.test:443/node/a/b", "spiffe://user@ndx.test/node/a/b",
        "spiffe://ndx.test/node/a/b?x=1", "spiffe://ndx.test/node/a/b#frag",
        "spiffe://ndx.test/node/a%2Fb/c", "spiffe://ndx.test/node/a/b%41",
        // Empty, extra or missing segments.
        "spiffe://ndx.test/node/a", "spiffe://ndx.test/node/a/b/c", "spiffe://ndx.test/node//b",
        "spiffe://ndx.test/node/a/", "spiffe://ndx.test//node/a/b", "spiffe://ndx.test/gateway",
        "spiffe://ndx.test/gateway/", "spiffe://ndx.test/gateway/a/b",
        "spiffe://ndx.test/node/a/b/", "spiffe://ndx.test/other/a", "spiffe://ndx.test/node/./b",
        "spiffe://ndx.test/node/../b",
        // Bad trust domains.
        "spiffe://ndx..test/node/a/b", "spiffe://.ndx.test/node/a/b", "spiffe://ndx.test./node/a/b",
        "spiffe://-ndx.test/node/a/b", "spiffe://[::1]/node/a/b",
        // Bad segments: leading '-', too long, spaces, non-ASCII.
        "spiffe://ndx.test/node/-a/b", "spiffe://ndx.test/gateway/" + std::string(64, 'g'),
        "spiffe://ndx.test/node/a b/c", "spiffe://ndx.test/gateway/h\xc3\xa0",
        " spiffe://ndx.test/gateway/g", "spiffe://ndx.test/gateway/g\n",
        // A NUL byte, as a certificate SAN could smuggle one in.
        std::string("spiffe://ndx.test/gateway/g\0x", 29),
        std::string("spiffe://ndx.test\0/gateway/g", 28)));

TEST(SpiffeIdTest, ErrorEscapesBytes) {
  absl::StatusOr<SpiffeId> id = ParseSpiffeId(std::string("spiffe://ndx.test/gateway/g\0x", 29));
  EXPECT_THAT(id, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("g\\x00x")));
}

}  // namespace
}  // namespace ndx::crypto
