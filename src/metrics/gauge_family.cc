#include "metrics/gauge_family.h"

#include <utility>

namespace ndx::metrics {

prometheus::MetricFamily GaugeFamily(std::string name, std::string help,
                                     const std::vector<GaugeSample>& samples) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  for (const GaugeSample& sample : samples) {
    prometheus::ClientMetric metric;
    // Labels is an ordered map: the text format gets them sorted by name, as Family's are.
    for (const auto& [label, value] : sample.labels) metric.label.push_back({label, value});
    metric.gauge.value = sample.value;
    family.metric.push_back(std::move(metric));
  }
  return family;
}

prometheus::MetricFamily SingleGauge(std::string name, std::string help, double value) {
  return GaugeFamily(std::move(name), std::move(help), {{.labels = {}, .value = value}});
}

}  // namespace ndx::metrics
