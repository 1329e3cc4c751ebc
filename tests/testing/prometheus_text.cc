#include "testing/prometheus_text.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ndx::testing {
namespace {

bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == ':'; }

absl::Status Malformed(absl::string_view line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line \"", line, "\": ", what));
}

absl::StatusOr<PrometheusSample> ParseLine(absl::string_view line) {
  PrometheusSample sample;
  size_t at = 0;
  while (at < line.size() && IsNameChar(line[at])) ++at;
  if (at == 0) return Malformed(line, "no metric name");
  sample.name = std::string(line.substr(0, at));
  if (at < line.size() && line[at] == '{') {
    ++at;
    while (at < line.size() && line[at] != '}') {
      const size_t name_start = at;
      while (at < line.size() && IsNameChar(line[at])) ++at;
      const std::string label(line.substr(name_start, at - name_start));
      if (label.empty() || line.substr(at, 2) != "=\"") return Malformed(line, "bad label");
      at += 2;
      std::string value;
      while (at < line.size() && line[at] != '"') {
        if (line[at] == '\\' && at + 1 < line.size()) {
          ++at;
          value.push_back(line[at] == 'n' ? '\n' : line[at]);
        } else {
          value.push_back(line[at]);
        }
        ++at;
      }
      if (at >= line.size()) return Malformed(line, "unterminated label value");
      ++at;
      sample.labels[label] = std::move(value);
      if (at < line.size() && line[at] == ',') ++at;
    }
    if (at >= line.size()) return Malformed(line, "unterminated label set");
    ++at;
  }
  std::vector<absl::string_view> rest =
      absl::StrSplit(line.substr(at), ' ', absl::SkipWhitespace());
  if (rest.empty() || rest.size() > 2) return Malformed(line, "no value, or more than a timestamp");
  if (rest[0] == "+Inf" || rest[0] == "-Inf" || rest[0] == "NaN" || rest[0] == "Nan") {
    sample.value = rest[0] == "-Inf" ? -HUGE_VAL : rest[0] == "+Inf" ? HUGE_VAL : NAN;
  } else if (!absl::SimpleAtod(rest[0], &sample.value)) {
    return Malformed(line, "the value is not a number");
  }
  return sample;
}

bool Includes(const std::map<std::string, std::string>& labels,
              const std::map<std::string, std::string>& wanted) {
  for (const auto& [name, value] : wanted) {
    auto it = labels.find(name);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<PrometheusText> PrometheusText::Parse(absl::string_view text) {
  PrometheusText parsed;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    absl::StatusOr<PrometheusSample> sample = ParseLine(line);
    if (!sample.ok()) return sample.status();
    parsed.samples_.push_back(*std::move(sample));
  }
  return parsed;
}

absl::StatusOr<double> PrometheusText::Value(
    absl::string_view name, const std::map<std::string, std::string>& labels) const {
  for (const PrometheusSample& sample : samples_) {
    if (sample.name == name && sample.labels == labels) return sample.value;
  }
  std::string wanted;
  for (const auto& [label, value] : labels) absl::StrAppend(&wanted, label, "=\"", value, "\" ");
  return absl::NotFoundError(absl::StrCat("no sample ", name, " { ", wanted, "}"));
}

absl::StatusOr<double> PrometheusText::Single(
    absl::string_view name, const std::map<std::string, std::string>& labels) const {
  std::vector<PrometheusSample> found = Find(name, labels);
  if (found.size() == 1) return found[0].value;
  return absl::Status(
      found.empty() ? absl::StatusCode::kNotFound : absl::StatusCode::kFailedPrecondition,
      absl::StrCat(found.size(), " samples ", name, " with these labels"));
}

std::vector<PrometheusSample> PrometheusText::Find(
    absl::string_view name, const std::map<std::string, std::string>& labels) const {
  std::vector<PrometheusSample> found;
  for (const PrometheusSample& sample : samples_) {
    if (sample.name == name && Includes(sample.labels, labels)) found.push_back(sample);
  }
  return found;
}

double PrometheusText::Sum(absl::string_view name,
                           const std::map<std::string, std::string>& labels) const {
  double sum = 0;
  for (const PrometheusSample& sample : Find(name, labels)) sum += sample.value;
  return sum;
}

}  // namespace ndx::testing
