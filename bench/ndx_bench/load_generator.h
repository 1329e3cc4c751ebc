#ifndef NDX_BENCH_NDX_BENCH_LOAD_GENERATOR_H_
#define NDX_BENCH_NDX_BENCH_LOAD_GENERATOR_H_

#include <grpcpp/channel.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ndx_bench/bench_call.h"
#include "ndx_bench/latency_histogram.h"

namespace ndx::bench {

// Where a run stands, for the progress line.
struct LoadProgress {
  // Since the first call, warm-up included.
  absl::Duration elapsed;
  bool warming_up = false;
  // Counted so far (finished within the measured window).
  uint64_t calls = 0;
  uint64_t errors = 0;
  // Calls finished during the last interval, counted or not, per second.
  double recent_calls_per_second = 0;
};

struct LoadOptions {
  // Calls in flight at every moment, spread over the channels.
  int concurrency = 1;
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration duration = absl::Seconds(10);
  // The deadline of each call; it also bounds how long the end of a run waits for the last calls.
  absl::Duration call_timeout = absl::Seconds(10);
  // When set, called from RunLoad's thread once a second until the measured window ends.
  std::function<void(const LoadProgress&)> on_progress;
};

// What the measured window saw. A call counts when it finishes within the window, whenever it
// started; calls still running when the window ends are waited for but not counted.
struct LoadResult {
  absl::Duration window;
  uint64_t calls = 0;
  uint64_t errors = 0;
  // gRPC code name (NOT_FOUND, ...) -> failed calls, and one message seen with that code.
  std::map<std::string, uint64_t> errors_by_code;
  std::map<std::string, std::string> error_messages;
  // Of every counted call, failed ones included, from the start of the call to its completion.
  LatencyHistogram latency;
  // The serialized response of one successful call (0 when none succeeded).
  size_t response_bytes = 0;
  // CPU time of this whole process (every thread) within the window: shows when the client
  // itself competes with the servers for the machine.
  absl::Duration client_cpu;
};

// The closed loop: `options.concurrency` slots spread round-robin over `channels`; each slot
// starts its next call as soon as the previous one finishes. One thread and one CompletionQueue
// per channel drive the slots of that channel, so each thread counts into its own histogram
// without locks. Blocks until the last call has finished.
// REQUIRES: channels is not empty and options.concurrency >= channels.size().
LoadResult RunLoad(const LoadOptions& options,
                   const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                   const BenchCallFactory& calls);

}  // namespace ndx::bench

#endif  // NDX_BENCH_NDX_BENCH_LOAD_GENERATOR_H_
