#include "gateway/gateway_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

#include "gateway/metered_audit_sink.h"
#include "metrics/exposition.h"
#include "testing/prometheus_text.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::PrometheusText;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A sink that records what it is given and answers every append with `result`.
class FakeSink final : public audit::AuditSink {
 public:
  void Append(audit::AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override {
    records.push_back(std::move(record));
    std::move(done)(result);
  }
  absl::Status result;
  std::vector<audit::AuditRecord> records;
};

audit::AuditRecord Record(const std::string& operation, absl::StatusCode code,
                          absl::Duration latency = absl::Milliseconds(3)) {
  audit::AuditRecord record;
  record.operation = operation;
  record.code = code;
  record.allowed = code == absl::StatusCode::kOk;
  record.latency = latency;
  return record;
}

class GatewayMetricsTest : public ::testing::Test {
 protected:
  GatewayMetricsTest() {
    auto fake = std::make_unique<FakeSink>();
    fake_ = fake.get();
    sink_.emplace(std::move(fake), &metrics_);
  }

  // Appends `record`; the status `done` got.
  absl::Status Append(audit::AuditRecord record) {
    std::optional<absl::Status> answered;
    int calls = 0;
    sink_->Append(std::move(record), [&](absl::Status status) {
      answered = std::move(status);
      ++calls;
    });
    EXPECT_EQ(calls, 1);
    return answered.value_or(absl::InternalError("done was not called"));
  }

  PrometheusText Scrape() {
    const prometheus::Collectable* sources[] = {&metrics_.registry()};
    absl::StatusOr<PrometheusText> text = PrometheusText::Parse(metrics::RenderText(sources));
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *std::move(text) : PrometheusText();
  }

  static std::map<std::string, std::string> Request(const std::string& service,
                                                    const std::string& method,
                                                    const std::string& decision,
                                                    const std::string& code) {
    return {{"service", service}, {"method", method}, {"decision", decision}, {"code", code}};
  }

  GatewayMetrics metrics_;
  FakeSink* fake_ = nullptr;
  std::optional<MeteredAuditSink> sink_;
};

TEST_F(GatewayMetricsTest, CountsEachDecisionByServiceMethodDecisionAndCode) {
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Append(Record("Get", absl::StatusCode::kOk)).ok());
  EXPECT_TRUE(Append(Record("Get", absl::StatusCode::kPermissionDenied)).ok());
  EXPECT_TRUE(Append(Record("Query", absl::StatusCode::kInvalidArgument)).ok());
  EXPECT_TRUE(Append(Record("Registry.ApproveGrant", absl::StatusCode::kOk)).ok());
  EXPECT_TRUE(Append(Record("Registry.BootstrapOperators", absl::StatusCode::kOk)).ok());
  EXPECT_THAT(fake_->records, SizeIs(7));

  PrometheusText text = Scrape();
  const char* kRequests = "ndx_gateway_requests_total";
  EXPECT_EQ(text.Value(kRequests, Request("Exchange", "Get", "allow", "OK")).value_or(-1), 3);
  EXPECT_EQ(
      text.Value(kRequests, Request("Exchange", "Get", "deny", "PERMISSION_DENIED")).value_or(-1),
      1);
  EXPECT_EQ(
      text.Value(kRequests, Request("Exchange", "Query", "deny", "INVALID_ARGUMENT")).value_or(-1),
      1);
  EXPECT_EQ(text.Value(kRequests, Request("Registry", "ApproveGrant", "allow", "OK")).value_or(-1),
            1);
  EXPECT_EQ(
      text.Value(kRequests, Request("Registry", "BootstrapOperators", "allow", "OK")).value_or(-1),
      1);
  EXPECT_EQ(text.Sum(kRequests), 7);
  EXPECT_EQ(text.Value("ndx_gateway_request_duration_seconds_count",
                       {{"service", "Exchange"}, {"method", "Get"}})
                .value_or(-1),
            4);
  // The record's latency and then the append's.
  EXPECT_GE(text.Value("ndx_gateway_request_duration_seconds_sum",
                       {{"service", "Exchange"}, {"method", "Get"}})
                .value_or(-1),
            4 * 0.003);
  EXPECT_EQ(text.Value("ndx_audit_append_duration_seconds_count").value_or(-1), 7);
  EXPECT_EQ(text.Value("ndx_audit_append_failures_total").value_or(-1), 0);
}

TEST_F(GatewayMetricsTest, ExportsNoRequestSeriesBeforeACall) {
  PrometheusText text = Scrape();
  EXPECT_THAT(text.Find("ndx_gateway_requests_total"), IsEmpty());
  // Every operation's histogram is made ahead, at zero.
  EXPECT_EQ(text.Value("ndx_gateway_request_duration_seconds_count",
                       {{"service", "Events"}, {"method", "Subscribe"}})
                .value_or(-1),
            0);
  EXPECT_EQ(text.Value("ndx_gateway_request_duration_seconds_count",
                       {{"service", "Audit"}, {"method", "GetCheckpoint"}})
                .value_or(-1),
            0);
}

TEST_F(GatewayMetricsTest, AnAllowedCallWhoseRecordFailedIsAnsweredUnavailable) {
  fake_->result = absl::UnavailableError("disk full");
  EXPECT_EQ(Append(Record("Get", absl::StatusCode::kOk)).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Append(Record("Get", absl::StatusCode::kPermissionDenied)).code(),
            absl::StatusCode::kUnavailable);
  PrometheusText text = Scrape();
  EXPECT_EQ(
      text.Value("ndx_gateway_requests_total", Request("Exchange", "Get", "deny", "UNAVAILABLE"))
          .value_or(-1),
      1);
  // A refusal stays the refusal it was.
  EXPECT_EQ(text.Value("ndx_gateway_requests_total",
                       Request("Exchange", "Get", "deny", "PERMISSION_DENIED"))
                .value_or(-1),
            1);
  EXPECT_THAT(text.Find("ndx_gateway_requests_total", {{"decision", "allow"}}), IsEmpty());
  EXPECT_EQ(text.Value("ndx_audit_append_failures_total").value_or(-1), 2);
  EXPECT_EQ(text.Value("ndx_audit_append_duration_seconds_count").value_or(-1), 2);
}

TEST_F(GatewayMetricsTest, AnOperationOfNoKnownServiceIsCountedUnderItsOwnName) {
  EXPECT_TRUE(Append(Record("Rest.Get", absl::StatusCode::kOk)).ok());
  EXPECT_TRUE(Append(Record("Rest.Get", absl::StatusCode::kOk)).ok());
  EXPECT_TRUE(Append(Record("Lookup", absl::StatusCode::kNotFound)).ok());
  PrometheusText text = Scrape();
  EXPECT_EQ(
      text.Value("ndx_gateway_requests_total", Request("Rest", "Get", "allow", "OK")).value_or(-1),
      2);
  EXPECT_EQ(
      text.Value("ndx_gateway_requests_total", Request("Exchange", "Lookup", "deny", "NOT_FOUND"))
          .value_or(-1),
      1);
}

TEST_F(GatewayMetricsTest, AdapterCallsByOwnerMethodAndCode) {
  std::unique_ptr<GatewayMetrics::AdapterCalls> population = metrics_.ForAdapter("mops/population");
  std::unique_ptr<GatewayMetrics::AdapterCalls> civil = metrics_.ForAdapter("moj/civil-status");
  population->Observe("Fetch", absl::StatusCode::kOk, absl::Milliseconds(2));
  population->Observe("Fetch", absl::StatusCode::kNotFound, absl::Milliseconds(1));
  population->Observe("Search", absl::StatusCode::kOk, absl::Milliseconds(4));
  civil->Observe("Fetch", absl::StatusCode::kDeadlineExceeded, absl::Seconds(2));
  // Not a method of the Adapter service: not counted.
  civil->Observe("Grpc.Health", absl::StatusCode::kOk, absl::Milliseconds(1));

  PrometheusText text = Scrape();
  const char* kCalls = "ndx_gateway_adapter_calls_total";
  EXPECT_EQ(text.Value(kCalls, {{"owner", "mops/population"}, {"method", "Fetch"}, {"code", "OK"}})
                .value_or(-1),
            1);
  EXPECT_EQ(
      text.Value(kCalls, {{"owner", "mops/population"}, {"method", "Fetch"}, {"code", "NOT_FOUND"}})
          .value_or(-1),
      1);
  EXPECT_EQ(text.Value(kCalls, {{"owner", "moj/civil-status"},
                                {"method", "Fetch"},
                                {"code", "DEADLINE_EXCEEDED"}})
                .value_or(-1),
            1);
  EXPECT_EQ(text.Sum(kCalls), 4);
  EXPECT_EQ(text.Value("ndx_gateway_adapter_call_duration_seconds_count",
                       {{"owner", "mops/population"}, {"method", "Fetch"}})
                .value_or(-1),
            2);
  EXPECT_EQ(text.Value("ndx_gateway_adapter_call_duration_seconds_bucket",
                       {{"owner", "moj/civil-status"}, {"method", "Fetch"}, {"le", "1"}})
                .value_or(-1),
            0);
  EXPECT_EQ(text.Value("ndx_gateway_adapter_call_duration_seconds_bucket",
                       {{"owner", "moj/civil-status"}, {"method", "Fetch"}, {"le", "2.5"}})
                .value_or(-1),
            1);
}

}  // namespace
}  // namespace ndx::gateway
