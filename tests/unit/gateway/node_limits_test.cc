#include "gateway/node_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/overload_refusal.h"
#include "testing/status_matchers.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;

constexpr char kInsurance[] = "moh/insurance";
constexpr char kCivil[] = "moj/civil-status";

class NodeLimitsTest : public ::testing::Test {
 protected:
  NodeLimitsOptions Options() {
    NodeLimitsOptions options;
    options.defaults = {.calls = 2, .streams = 1, .subscriptions = 3, .connections = 2};
    return options;
  }
};

TEST_F(NodeLimitsTest, CallsOverTheCapAreRefusedNamingTheSettingUntilOneEnds) {
  NodeLimits limits(Options());
  auto first = limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50001");
  auto second = limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50001");
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(limits.Held(kInsurance, NodeResource::kCalls), 2);

  auto third = limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50001");
  EXPECT_THAT(third, StatusIs(absl::StatusCode::kResourceExhausted,
                              "node moh/insurance has 2 reads in progress, as many as the gateway "
                              "allows it (node_limits.defaults.calls); retry once some are "
                              "answered"));
  EXPECT_THAT(OverloadReasonOf(third.status()), Optional(OverloadReason::kNodeCalls));

  // Another node has caps of its own.
  EXPECT_THAT(limits.Acquire(kCivil, NodeResource::kCalls, "ipv4:10.0.0.8:50001"), IsOk());

  first->Release();
  EXPECT_EQ(limits.Held(kInsurance, NodeResource::kCalls), 1);
  EXPECT_THAT(limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50001"), IsOk());
}

TEST_F(NodeLimitsTest, KindsAreCappedSeparately) {
  NodeLimits limits(Options());
  auto stream = limits.Acquire(kInsurance, NodeResource::kStreams, "ipv4:10.0.0.7:50001");
  ASSERT_THAT(stream, IsOk());
  EXPECT_THAT(limits.Acquire(kInsurance, NodeResource::kStreams, "ipv4:10.0.0.7:50001"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("1 streams open, as many as the gateway allows it "
                                 "(node_limits.defaults.streams); end one first")));
  EXPECT_THAT(limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50001"), IsOk());
  std::vector<NodeLimits::Hold> subscriptions;
  for (int i = 0; i < 3; ++i) {
    auto held = limits.Acquire(kInsurance, NodeResource::kSubscriptions, "");
    ASSERT_THAT(held, IsOk());
    subscriptions.push_back(*std::move(held));
  }
  auto refused = limits.Acquire(kInsurance, NodeResource::kSubscriptions, "");
  EXPECT_THAT(OverloadReasonOf(refused.status()), Optional(OverloadReason::kNodeSubscriptions));
}

TEST_F(NodeLimitsTest, CountsKeptElsewhereAreCheckedAgainstTheCap) {
  NodeLimits limits(Options());
  EXPECT_THAT(limits.CheckHeld(kInsurance, NodeResource::kSubscriptions, 2), IsOk());
  absl::Status refused = limits.CheckHeld(kInsurance, NodeResource::kSubscriptions, 3);
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("node moh/insurance has 3 subscriptions, as many as the "
                                 "gateway allows it (node_limits.defaults.subscriptions)")));
  EXPECT_THAT(OverloadReasonOf(refused), Optional(OverloadReason::kNodeSubscriptions));
}

TEST_F(NodeLimitsTest, ANodesOwnCapsReplaceTheDefaultsAndAreNamed) {
  NodeLimitsOptions options = Options();
  options.nodes[kInsurance] = {.calls = 1, .streams = 1, .subscriptions = 1, .connections = 1};
  NodeLimits limits(std::move(options));
  auto held = limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50001");
  ASSERT_THAT(held, IsOk());
  EXPECT_THAT(limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50001"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("(node_limits.nodes[\"moh/insurance\"].calls)")));
  EXPECT_THAT(limits.Acquire(kCivil, NodeResource::kCalls, "ipv4:10.0.0.8:50001"), IsOk());
}

TEST_F(NodeLimitsTest, ACallOnAConnectionPastTheCapIsRefused) {
  NodeLimits limits(Options());
  auto a = limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50001");
  auto b = limits.Acquire(kInsurance, NodeResource::kStreams, "ipv4:10.0.0.7:50002");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(limits.Connections(kInsurance), 2);

  auto c = limits.Acquire(kInsurance, NodeResource::kSubscriptions, "ipv4:10.0.0.7:50003");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kResourceExhausted,
                          "node moh/insurance has calls in progress on 2 connections, as many as "
                          "the gateway allows it (node_limits.defaults.connections); send the "
                          "calls over fewer gRPC channels: one channel multiplexes them all"));
  EXPECT_THAT(OverloadReasonOf(c.status()), Optional(OverloadReason::kNodeConnections));
  // The refused call held nothing.
  EXPECT_EQ(limits.Held(kInsurance, NodeResource::kSubscriptions), 0);

  // A connection in use carries more calls; another node has connections of its own.
  EXPECT_THAT(limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50001"), IsOk());
  EXPECT_THAT(limits.Acquire(kCivil, NodeResource::kCalls, "ipv4:10.0.0.7:50003"), IsOk());
  // A transport whose connections are not tracked is not refused for them.
  EXPECT_THAT(limits.Acquire(kInsurance, NodeResource::kSubscriptions, ""), IsOk());
}

TEST_F(NodeLimitsTest, AConnectionCountsWhileItCarriesCalls) {
  NodeLimits limits(Options());
  auto a = limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50001");
  ASSERT_THAT(a, IsOk());
  {
    auto b = limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50002");
    ASSERT_THAT(b, IsOk());
    EXPECT_THAT(limits.Acquire(kInsurance, NodeResource::kStreams, "ipv4:10.0.0.7:50003"),
                StatusIs(absl::StatusCode::kResourceExhausted));
  }
  EXPECT_EQ(limits.Connections(kInsurance), 1);
  // One call per connection, one after another (ndxctl runs one per process), is never refused.
  for (int port = 50003; port < 50013; ++port) {
    auto held =
        limits.Acquire(kInsurance, NodeResource::kCalls, absl::StrCat("ipv4:10.0.0.7:", port));
    EXPECT_THAT(held, IsOk());
  }
  a->Release();
  EXPECT_EQ(limits.Connections(kInsurance), 0);
}

TEST_F(NodeLimitsTest, AHoldMovesAndReleasesOnce) {
  NodeLimits limits(Options());
  NodeLimits::Hold kept;
  {
    auto held = limits.Acquire(kInsurance, NodeResource::kCalls, "ipv4:10.0.0.7:50001");
    ASSERT_THAT(held, IsOk());
    kept = *std::move(held);
  }
  EXPECT_EQ(limits.Held(kInsurance, NodeResource::kCalls), 1);
  NodeLimits::Hold moved = std::move(kept);
  kept.Release();
  EXPECT_EQ(limits.Held(kInsurance, NodeResource::kCalls), 1);
  moved.Release();
  moved.Release();
  EXPECT_EQ(limits.Held(kInsurance, NodeResource::kCalls), 0);
}

TEST(OverloadRefusalTest, OnlyOverloadRefusalsCarryAReason) {
  absl::Status refusal = OverloadRefusal(absl::StatusCode::kUnavailable,
                                         OverloadReason::kOwnerCircuitOpen, "the circuit is open");
  EXPECT_THAT(refusal, StatusIs(absl::StatusCode::kUnavailable, "the circuit is open"));
  EXPECT_THAT(OverloadReasonOf(refusal), Optional(OverloadReason::kOwnerCircuitOpen));
  EXPECT_EQ(OverloadReasonName(OverloadReason::kDeadlineTooShort), "deadline_too_short");
  EXPECT_EQ(OverloadReasonOf(absl::ResourceExhaustedError("message too large")), std::nullopt);
  EXPECT_EQ(OverloadReasonOf(absl::OkStatus()), std::nullopt);
}

}  // namespace
}  // namespace ndx::gateway
