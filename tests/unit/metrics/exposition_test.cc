#include "metrics/exposition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "metrics/code_counters.h"
#include "metrics/gauge_family.h"
#include "testing/prometheus_text.h"

namespace ndx::metrics {
namespace {

using ::ndx::testing::PrometheusText;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A Collectable of fixed gauge families, as the scrape-time collectors make them.
class FixedGauges final : public prometheus::Collectable {
 public:
  explicit FixedGauges(std::vector<prometheus::MetricFamily> families)
      : families_(std::move(families)) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return families_; }

 private:
  std::vector<prometheus::MetricFamily> families_;
};

TEST(ExpositionTest, RendersGaugeFamiliesWithTheirHelpTypeAndLabels) {
  FixedGauges gauges({GaugeFamily(
      "ndx_test_backlog", "Events not yet acknowledged",
      {{.labels = {{"subscriber", "moh/insurance"}, {"dataset", "mops/residents"}}, .value = 3},
       {.labels = {{"subscriber", "moj/civil-status"}, {"dataset", "mops/residents"}},
        .value = 0}})});
  const prometheus::Collectable* sources[] = {&gauges};
  const std::string text = RenderText(sources);
  EXPECT_THAT(text, HasSubstr("# HELP ndx_test_backlog Events not yet acknowledged\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE ndx_test_backlog gauge\n"));
  // Labels sorted by name, as prometheus::Family writes them.
  EXPECT_THAT(
      text,
      HasSubstr("ndx_test_backlog{dataset=\"mops/residents\",subscriber=\"moh/insurance\"} 3"));
  absl::StatusOr<PrometheusText> parsed = PrometheusText::Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed
                ->Value("ndx_test_backlog",
                        {{"subscriber", "moj/civil-status"}, {"dataset", "mops/residents"}})
                .value_or(-1),
            0);
}

TEST(ExpositionTest, AFamilyWithoutSamplesExportsNoSample) {
  FixedGauges gauges({GaugeFamily("ndx_test_age_seconds", "Age", {})});
  const prometheus::Collectable* sources[] = {&gauges};
  absl::StatusOr<PrometheusText> parsed = PrometheusText::Parse(RenderText(sources));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->Find("ndx_test_age_seconds"), IsEmpty());
}

TEST(ExpositionTest, EscapesLabelValues) {
  FixedGauges gauges({GaugeFamily("ndx_test_certificate", "c",
                                  {{.labels = {{"file", "a\"b\\c\nd"}}, .value = 1}})});
  const prometheus::Collectable* sources[] = {&gauges};
  const std::string text = RenderText(sources);
  EXPECT_THAT(text, HasSubstr(R"(ndx_test_certificate{file="a\"b\\c\nd"} 1)"));
  absl::StatusOr<PrometheusText> parsed = PrometheusText::Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Value("ndx_test_certificate", {{"file", "a\"b\\c\nd"}}).value_or(-1), 1);
}

TEST(ExpositionTest, RendersSourcesInOrderWithHistogramsCumulative) {
  prometheus::Registry registry;
  prometheus::Histogram& latency = prometheus::BuildHistogram()
                                       .Name("ndx_test_duration_seconds")
                                       .Help("latency")
                                       .Register(registry)
                                       .Add({{"method", "Get"}}, LatencyBuckets());
  latency.Observe(0.002);
  latency.Observe(0.002);
  latency.Observe(7);
  FixedGauges gauges({SingleGauge("ndx_test_revision", "revision", 12)});
  const prometheus::Collectable* sources[] = {&registry, &gauges};
  const std::string text = RenderText(sources);
  EXPECT_LT(text.find("ndx_test_duration_seconds"), text.find("ndx_test_revision"));
  absl::StatusOr<PrometheusText> parsed = PrometheusText::Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Value("ndx_test_duration_seconds_count", {{"method", "Get"}}).value_or(-1), 3);
  EXPECT_DOUBLE_EQ(parsed->Value("ndx_test_duration_seconds_sum", {{"method", "Get"}}).value_or(-1),
                   7.004);
  EXPECT_EQ(parsed->Value("ndx_test_duration_seconds_bucket", {{"method", "Get"}, {"le", "0.001"}})
                .value_or(-1),
            0);
  EXPECT_EQ(parsed->Value("ndx_test_duration_seconds_bucket", {{"method", "Get"}, {"le", "0.0025"}})
                .value_or(-1),
            2);
  EXPECT_EQ(parsed->Value("ndx_test_duration_seconds_bucket", {{"method", "Get"}, {"le", "+Inf"}})
                .value_or(-1),
            3);
  // The 14 bounds and +Inf.
  EXPECT_THAT(parsed->Find("ndx_test_duration_seconds_bucket"), SizeIs(15));
  EXPECT_EQ(parsed->Value("ndx_test_revision").value_or(-1), 12);
}

}  // namespace
}  // namespace ndx::metrics
