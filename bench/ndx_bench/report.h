#ifndef NDX_BENCH_NDX_BENCH_REPORT_H_
#define NDX_BENCH_NDX_BENCH_REPORT_H_

#include <string>

#include "absl/time/time.h"
#include "ndx_bench/load_generator.h"

namespace ndx::bench {

// What was run, as the report names it.
struct RunDescription {
  std::string api;  // "exchange" or "adapter"
  std::string target;
  // Closed loop: calls in flight. Open loop (rate > 0): at most max_in_flight outstanding.
  int concurrency = 1;
  double rate = 0;
  int max_in_flight = 0;
  int connections = 1;
  absl::Duration warmup;
};

// One JSON object on one line, ending in a newline; its fields are listed in docs/ndx-bench.md.
std::string FormatJson(const RunDescription& run, const LoadResult& result);

// A few aligned lines for people.
std::string FormatTable(const RunDescription& run, const LoadResult& result);

// The progress line, without line ending: "3s/11s  calls 36102  errors 0  12034 calls/s".
std::string FormatProgress(const LoadProgress& progress, absl::Duration total);

}  // namespace ndx::bench

#endif  // NDX_BENCH_NDX_BENCH_REPORT_H_
