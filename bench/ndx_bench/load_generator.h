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
  // Closed loop (rate 0): calls in flight at every moment, spread over the channels.
  int concurrency = 1;
  // Open loop: calls started per second on a fixed schedule, whatever the answers, at most
  // max_in_flight of them outstanding at once. 0: closed loop.
  double rate = 0;
  int max_in_flight = 1000;
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration duration = absl::Seconds(10);
  // The deadline of each call; it also bounds how long the end of a run waits for the last calls.
  absl::Duration call_timeout = absl::Seconds(10);
  // When set, called from RunLoad's thread once a second until the measured window ends.
  std::function<void(const LoadProgress&)> on_progress;
};

// What the measured window saw. Closed loop: a call counts when it finishes within the window,
// whenever it started; calls still running when the window ends are waited for but not counted.
// Open loop: a call counts when its scheduled start lies within the window, whenever it
// finishes; the run waits for the last of them.
struct LoadResult {
  absl::Duration window;
  uint64_t calls = 0;
  uint64_t errors = 0;
  // Open loop only: calls due within the window, and those of them not started because
  // max_in_flight calls were outstanding at their time (neither counted in `calls`).
  uint64_t scheduled = 0;
  uint64_t not_sent = 0;
  // Open loop only: how late the client started each counted call after its scheduled time; a
  // large value means the client, not the server, fell behind.
  LatencyHistogram start_lag;
  // gRPC code name (OK included) -> latency of the counted calls that ended with it.
  std::map<std::string, LatencyHistogram> latency_by_code;
  // gRPC code name (NOT_FOUND, ...) -> failed calls, and one message seen with that code.
  std::map<std::string, uint64_t> errors_by_code;
  std::map<std::string, std::string> error_messages;
  // Of every counted call, failed ones included, to its completion from its start (closed loop)
  // or from its scheduled start (open loop: a call the client started late, because the server
  // held the client back, is not made to look fast).
  LatencyHistogram latency;
  // The serialized response of one successful call (0 when none succeeded).
  size_t response_bytes = 0;
  // CPU time of this whole process (every thread) within the window: shows when the client
  // itself competes with the servers for the machine.
  absl::Duration client_cpu;
};

// The closed loop (options.rate 0): `options.concurrency` slots spread round-robin over
// `channels`; each slot starts its next call as soon as the previous one finishes.
// The open loop (options.rate > 0): each channel starts its share of the rate on a fixed
// schedule, the channels' schedules interleaved so that together they are evenly spaced; a call
// due while the channel's share of max_in_flight is outstanding is not sent, and counted so.
// One thread and one CompletionQueue per channel drive the calls of that channel, so each thread
// counts into its own histograms without locks. Blocks until the last call has finished.
// REQUIRES: channels is not empty and options.concurrency (closed loop) or
// options.max_in_flight (open loop) >= channels.size().
LoadResult RunLoad(const LoadOptions& options,
                   const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                   const BenchCallFactory& calls);

}  // namespace ndx::bench

#endif  // NDX_BENCH_NDX_BENCH_LOAD_GENERATOR_H_
