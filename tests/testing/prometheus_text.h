#ifndef NDX_TESTS_TESTING_PROMETHEUS_TEXT_H_
#define NDX_TESTS_TESTING_PROMETHEUS_TEXT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ndx::testing {

// One sample line of Prometheus's text exposition format: name{labels} value.
struct PrometheusSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// A scrape's samples, parsed strictly enough for tests: comments and blank lines are skipped;
// anything else must be a sample (label values unescaped; a timestamp, if any, is ignored).
// kInvalidArgument naming the line otherwise.
class PrometheusText {
 public:
  static absl::StatusOr<PrometheusText> Parse(absl::string_view text);

  // The value of the sample named `name` whose labels are exactly `labels`; kNotFound if there
  // is none.
  absl::StatusOr<double> Value(absl::string_view name,
                               const std::map<std::string, std::string>& labels = {}) const;
  // The value of the one sample named `name` whose labels include `labels`; kNotFound if there is
  // none, kFailedPrecondition if there are several.
  absl::StatusOr<double> Single(absl::string_view name,
                                const std::map<std::string, std::string>& labels) const;
  // The samples named `name` whose labels include `labels`.
  std::vector<PrometheusSample> Find(absl::string_view name,
                                     const std::map<std::string, std::string>& labels = {}) const;
  // The sum of the values of Find(name, labels).
  double Sum(absl::string_view name, const std::map<std::string, std::string>& labels = {}) const;

  const std::vector<PrometheusSample>& samples() const { return samples_; }

 private:
  std::vector<PrometheusSample> samples_;
};

}  // namespace ndx::testing

#endif  // NDX_TESTS_TESTING_PROMETHEUS_TEXT_H_
