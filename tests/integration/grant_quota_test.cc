// A grant's rate limit through a real ndx-gateway process: the burst is answered, the next call is
// refused RESOURCE_EXHAUSTED at once with a retry delay a client can read, the owner's adapter
// never sees it, tokens come back, and the refusals are in the audit log as one counted entry.

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "integration/fake_adapter.h"
#include "integration/federation.h"
#include "ndx/v1/audit.grpc.pb.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPurpose[] = "health-insurance-enrolment";
constexpr char kKey[] = "001090000001";

// A Resident with its citizen_id (field 1, the subject) and full_name (field 2).
std::string ResidentBytes(const std::string& key) {
  std::string name = "Nguyen Van An";
  return absl::StrCat(std::string(1, '\x0a'), std::string(1, static_cast<char>(key.size())), key,
                      std::string(1, '\x12'), std::string(1, static_cast<char>(name.size())), name);
}

// What a client can read from a refusal.
struct Answer {
  grpc::Status status;
  std::string request_id;      // the initial metadata ndx-request-id
  std::string retry_after_ms;  // the plain trailer
};

class GrantQuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    adapter_ = std::make_unique<FakeAdapter>(
        federation_.pki().Node(kPopulationNode),
        [](const v1::FetchRequest& request, v1::FetchResponse* response) {
          response->set_record(ResidentBytes(request.key()));
          return grpc::Status::OK;
        });
    ASSERT_THAT(federation_.StartGateway(), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(adapter_->endpoint()), IsOk());
    ASSERT_THAT(federation_.RegisterAuditor(), IsOk());
  }

  // A grant of moh/insurance on mops/residents that the owner approves with `rate` and `burst`.
  std::string LimitedGrant(double rate, uint32_t burst) {
    absl::StatusOr<v1::Grant> requested = federation_.Grant(
        kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}, absl::Hours(24),
        /*approve=*/false);
    EXPECT_THAT(requested.status(), IsOk());
    if (!requested.ok()) return "";
    v1::ApproveGrantRequest approve;
    approve.set_grant_id(requested->id());
    approve.mutable_rate_limit()->set_requests_per_second(rate);
    approve.mutable_rate_limit()->set_burst(burst);
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::Grant approved;
    grpc::Status status =
        federation_.RegistryAs(kPopulationNode)->ApproveGrant(&context, approve, &approved);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(approved.rate_limit().burst(), burst);
    return approved.id();
  }

  Answer Get() {
    v1::GetRequest request;
    request.set_dataset(kResidents);
    request.set_key(kKey);
    request.set_purpose(kPurpose);
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::GetResponse response;
    Answer answer;
    answer.status = exchange_->Get(&context, request, &response);
    for (const auto& [key, value] : context.GetServerInitialMetadata()) {
      if (key == "ndx-request-id") answer.request_id.assign(value.data(), value.size());
    }
    for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
      if (key == "retry-after-ms") answer.retry_after_ms.assign(value.data(), value.size());
    }
    return answer;
  }

  // The entries of moh/insurance's refused reads, as an auditor finds them by caller.
  std::vector<v1::AuditEntry> RefusedReads() {
    auto audit = v1::Audit::NewStub(federation_.ChannelAs(kAuditorNode));
    v1::QueryEntriesRequest request;
    request.set_caller(kInsuranceNode);
    request.set_decision(v1::AuditEntry::DECISION_DENY);
    request.set_page_size(1000);
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::QueryEntriesResponse response;
    grpc::Status status = audit->QueryEntries(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.entries().begin(), response.entries().end()};
  }

  Federation federation_;
  std::unique_ptr<FakeAdapter> adapter_;
  std::unique_ptr<v1::Exchange::Stub> exchange_ = nullptr;
};

TEST_F(GrantQuotaTest, OverTheRateIsRefusedAtOnceWithARetryDelayAndCountedInTheAuditLog) {
  // A call every five seconds, two at once: the third call of a quick burst is over the limit
  // (the two take well under the five seconds a token takes to come back, even on a loaded
  // machine).
  const std::string grant = LimitedGrant(0.2, 2);
  exchange_ = federation_.ExchangeAs(kInsuranceNode);
  ASSERT_TRUE(Get().status.ok());
  ASSERT_TRUE(Get().status.ok());
  EXPECT_EQ(adapter_->fetch_count(), 2);

  Answer refused = Get();
  ASSERT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.status.error_message();
  EXPECT_THAT(refused.status.error_message(),
              HasSubstr(absl::StrCat("grant ", grant,
                                     " of moh/insurance on mops/residents is "
                                     "over its rate limit of 0.2 requests per second (burst 2); "
                                     "retry in ")));
  EXPECT_THAT(refused.status.error_message(), Not(HasSubstr(kKey)));
  // The standard rich status: google.rpc.Status with a RetryInfo.
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(refused.status.error_details()));
  EXPECT_EQ(details.code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::RetryInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  absl::Duration delay =
      absl::Seconds(info.retry_delay().seconds()) + absl::Nanoseconds(info.retry_delay().nanos());
  EXPECT_GT(delay, absl::ZeroDuration());
  EXPECT_LE(delay, absl::Seconds(5));
  // The same delay in whole milliseconds, for clients without google.rpc's protos.
  int64_t trailer_ms = 0;
  ASSERT_TRUE(absl::SimpleAtoi(refused.retry_after_ms, &trailer_ms)) << refused.retry_after_ms;
  EXPECT_EQ(trailer_ms, absl::ToInt64Milliseconds(absl::Ceil(delay, absl::Milliseconds(1))));
  // The refused call never reached the owner's adapter.
  EXPECT_EQ(adapter_->fetch_count(), 2);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Get().status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  EXPECT_EQ(adapter_->fetch_count(), 2);

  // A token comes back: waiting the delay the gateway gave (polling, in case the clock's step
  // and the network make it a little longer) gets an answer again.
  bool answered = false;
  for (int attempt = 0; attempt < 40 && !answered; ++attempt) {
    Answer next = Get();
    if (next.status.ok()) {
      answered = true;
    } else {
      ASSERT_EQ(next.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      int64_t wait_ms = 0;
      ASSERT_TRUE(absl::SimpleAtoi(next.retry_after_ms, &wait_ms));
      absl::SleepFor(absl::Milliseconds(wait_ms));
    }
  }
  EXPECT_TRUE(answered);
  EXPECT_EQ(adapter_->fetch_count(), 3);

  // The refusals are audited as entries counting them, one per second they fell in, found by
  // caller; each names the grant, the reason and the subject the refused calls asked for.
  uint64_t counted = 0;
  std::vector<v1::AuditEntry> entries;
  for (int attempt = 0; attempt < 100; ++attempt) {
    entries = RefusedReads();
    counted = 0;
    for (const v1::AuditEntry& entry : entries) counted += entry.refused_calls();
    // At least the four refused above; the polling may have added some.
    if (counted >= 4) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GE(counted, 4u);
  ASSERT_FALSE(entries.empty());
  for (const v1::AuditEntry& entry : entries) {
    EXPECT_EQ(entry.operation(), "Get");
    EXPECT_EQ(entry.dataset(), kResidents);
    EXPECT_EQ(entry.grant_id(), grant);
    EXPECT_EQ(entry.purpose(), kPurpose);
    EXPECT_EQ(entry.code(), "RESOURCE_EXHAUSTED");
    EXPECT_EQ(entry.reason(), absl::StrCat("grant ", grant,
                                           " of moh/insurance on mops/residents is over its rate "
                                           "limit of 0.2 requests per second (burst 2)"));
    EXPECT_GE(entry.refused_calls(), 1u);
    EXPECT_GT(entry.refused_until().seconds() * 1000000000 + entry.refused_until().nanos(),
              entry.time().seconds() * 1000000000 + entry.time().nanos());
    ASSERT_EQ(entry.subject_pseudonyms_size(), 1);
    EXPECT_EQ(entry.subject_pseudonyms(0).size(), 64u);
  }
  // An entry goes by the request id of the first call it counts.
  bool found_first = false;
  for (const v1::AuditEntry& entry : entries)
    found_first |= entry.request_id() == refused.request_id;
  EXPECT_TRUE(found_first) << refused.request_id;
}

TEST_F(GrantQuotaTest, TheOwnersNewLimitAppliesFromTheNextCall) {
  const std::string grant = LimitedGrant(0.01, 1);
  exchange_ = federation_.ExchangeAs(kInsuranceNode);
  ASSERT_TRUE(Get().status.ok());
  ASSERT_EQ(Get().status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  // The owner lifts the limit: the next calls are answered, however many.
  v1::SetGrantRateLimitRequest lift;
  lift.set_grant_id(grant);
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::Grant lifted;
  grpc::Status status =
      federation_.RegistryAs(kPopulationNode)->SetGrantRateLimit(&context, lift, &lifted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(lifted.has_rate_limit());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Get().status.ok()) << i;

  // The consumer cannot set its own limit.
  v1::SetGrantRateLimitRequest raise;
  raise.set_grant_id(grant);
  raise.mutable_rate_limit()->set_requests_per_second(1000);
  grpc::ClientContext consumer_context;
  SetTimeout(&consumer_context, absl::Seconds(10));
  status =
      federation_.RegistryAs(kInsuranceNode)->SetGrantRateLimit(&consumer_context, raise, &lifted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace ndx::testing
