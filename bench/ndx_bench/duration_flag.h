#ifndef NDX_BENCH_NDX_BENCH_DURATION_FLAG_H_
#define NDX_BENCH_NDX_BENCH_DURATION_FLAG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ndx::bench {

// A duration flag such as "10s", "0.5s", "250ms", "2m" or "1m30s". The unit is required: ndxctl's
// --timeout takes bare milliseconds, so a bare number here would be ambiguous. kInvalidArgument
// naming `flag` for anything else, a negative duration, or zero when `allow_zero` is false.
absl::StatusOr<absl::Duration> ParseDurationFlag(const std::string& flag, const std::string& text,
                                                 bool allow_zero);

}  // namespace ndx::bench

#endif  // NDX_BENCH_NDX_BENCH_DURATION_FLAG_H_
