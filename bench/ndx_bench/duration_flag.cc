#include "ndx_bench/duration_flag.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ndx::bench {

absl::StatusOr<absl::Duration> ParseDurationFlag(const std::string& flag, const std::string& text,
                                                 bool allow_zero) {
  absl::Duration duration;
  // absl::ParseDuration takes "0" alone without a unit; so do we, it is the same in every unit.
  const bool has_unit = !text.empty() && !absl::ascii_isdigit(text.back()) && text.back() != '.';
  if ((!has_unit && text != "0") || !absl::ParseDuration(text, &duration) ||
      duration == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": \"", text,
                     "\" is not a duration; give a number and a unit, e.g. 10s, 0.5s, 250ms"));
  }
  if (duration < absl::ZeroDuration() || (duration == absl::ZeroDuration() && !allow_zero)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": must be ", allow_zero ? "zero or more" : "more than zero"));
  }
  return duration;
}

}  // namespace ndx::bench
