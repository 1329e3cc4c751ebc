#ifndef NDX_METRICS_GAUGE_FAMILY_H_
#define NDX_METRICS_GAUGE_FAMILY_H_

#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace ndx::metrics {

struct GaugeSample {
  prometheus::Labels labels;
  double value = 0;
};

// A gauge family made for one scrape, for a prometheus::Collectable that reads its values when
// scraped (a log's size, a queue's length: cheaper read when asked than kept up to date on every
// change) or whose label sets come and go (subscriptions, certificates): a sample missing from
// one scrape is simply not exported, where a prometheus::Family would keep its last value.
prometheus::MetricFamily GaugeFamily(std::string name, std::string help,
                                     const std::vector<GaugeSample>& samples);
// A family of one gauge without labels.
prometheus::MetricFamily SingleGauge(std::string name, std::string help, double value);

}  // namespace ndx::metrics

#endif  // NDX_METRICS_GAUGE_FAMILY_H_
