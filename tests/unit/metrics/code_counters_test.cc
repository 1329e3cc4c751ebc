#include "metrics/code_counters.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <thread>
#include <vector>

#include "metrics/exposition.h"
#include "testing/prometheus_text.h"

namespace ndx::metrics {
namespace {

using ::ndx::testing::PrometheusText;
using ::testing::SizeIs;

class CodeCountersTest : public ::testing::Test {
 protected:
  PrometheusText Scrape() {
    const prometheus::Collectable* sources[] = {&registry_};
    absl::StatusOr<PrometheusText> text = PrometheusText::Parse(RenderText(sources));
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *std::move(text) : PrometheusText();
  }

  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& family_ =
      prometheus::BuildCounter().Name("test_calls_total").Help("calls").Register(registry_);
};

TEST_F(CodeCountersTest, CountsEachCodeUnderItsGrpcName) {
  CodeCounters counters(family_, {{"method", "Fetch"}});
  counters.Increment(absl::StatusCode::kOk);
  counters.Increment(absl::StatusCode::kOk);
  counters.Increment(absl::StatusCode::kPermissionDenied);
  counters.Increment(absl::StatusCode::kUnauthenticated);
  PrometheusText text = Scrape();
  EXPECT_EQ(text.Value("test_calls_total", {{"method", "Fetch"}, {"code", "OK"}}).value_or(-1), 2);
  EXPECT_EQ(text.Value("test_calls_total", {{"method", "Fetch"}, {"code", "PERMISSION_DENIED"}})
                .value_or(-1),
            1);
  EXPECT_EQ(text.Value("test_calls_total", {{"method", "Fetch"}, {"code", "UNAUTHENTICATED"}})
                .value_or(-1),
            1);
  // Only the codes that occurred are exported.
  EXPECT_THAT(text.Find("test_calls_total"), SizeIs(3));
}

TEST_F(CodeCountersTest, ACodeOutsideGrpcsIsUnknown) {
  CodeCounters counters(family_, {});
  counters.Increment(static_cast<absl::StatusCode>(42));
  counters.Increment(static_cast<absl::StatusCode>(-1));
  EXPECT_EQ(Scrape().Value("test_calls_total", {{"code", "UNKNOWN"}}).value_or(-1), 2);
  EXPECT_STREQ(CodeLabel(static_cast<absl::StatusCode>(17)), "UNKNOWN");
}

TEST_F(CodeCountersTest, CodeLabelsAreAbslNames) {
  for (int code = 0; code <= 16; ++code) {
    EXPECT_EQ(CodeLabel(static_cast<absl::StatusCode>(code)),
              absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
  }
}

TEST_F(CodeCountersTest, TwoSetsOfLabelsShareNoCounter) {
  CodeCounters fetch(family_, {{"method", "Fetch"}});
  CodeCounters search(family_, {{"method", "Search"}});
  fetch.Increment(absl::StatusCode::kOk);
  search.Increment(absl::StatusCode::kOk);
  search.Increment(absl::StatusCode::kOk);
  PrometheusText text = Scrape();
  EXPECT_EQ(text.Value("test_calls_total", {{"method", "Fetch"}, {"code", "OK"}}).value_or(-1), 1);
  EXPECT_EQ(text.Value("test_calls_total", {{"method", "Search"}, {"code", "OK"}}).value_or(-1), 2);
}

// Every thread races to make the same code's counter first; none of their increments is lost.
TEST_F(CodeCountersTest, ConcurrentFirstUsesLoseNothing) {
  CodeCounters counters(family_, {});
  constexpr int kThreads = 8;
  constexpr int kEach = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counters, t] {
      for (int i = 0; i < kEach; ++i) {
        counters.Increment(static_cast<absl::StatusCode>((t + i) % 17));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  PrometheusText text = Scrape();
  EXPECT_EQ(text.Sum("test_calls_total"), kThreads * kEach);
  EXPECT_THAT(text.Find("test_calls_total"), SizeIs(17));
}

}  // namespace
}  // namespace ndx::metrics
