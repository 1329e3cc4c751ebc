#include "ndx_bench/load_generator.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace ndx::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

// gRPC's codes, OK (0) to UNAUTHENTICATED (16).
constexpr int kCodes = 17;

struct Window {
  SteadyTime start;
  SteadyTime end;
};

absl::Duration ProcessCpuTime() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return absl::DurationFromTimespec(now);
}

uint64_t MicrosBetween(SteadyTime from, SteadyTime to) {
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
  return static_cast<uint64_t>(std::max<int64_t>(0, nanos) + 500) / 1000;
}

// When an open loop's calls fall due: call k of worker `index` of `workers` is due at
// (k * workers + index) / rate seconds after the first call, so that the workers' schedules
// interleave into one evenly spaced schedule. Computed from k each time, so it never drifts.
class Schedule {
 public:
  Schedule(SteadyTime first_call, double rate, int index, int workers)
      : first_call_(first_call), rate_(rate), index_(index), workers_(workers) {}

  SteadyTime Due(uint64_t k) const {
    const double seconds = (static_cast<double>(k) * workers_ + index_) / rate_;
    return first_call_ + std::chrono::nanoseconds(static_cast<int64_t>(seconds * 1e9));
  }

 private:
  const SteadyTime first_call_;
  const double rate_;
  const int index_;
  const int workers_;
};

// The calls of one channel, driven by one thread through one CompletionQueue. RunClosed() or
// RunOpen() is called once, on the worker's thread; the progress counters may be read from any
// thread meanwhile, everything else only after the run has returned.
class ChannelWorker {
 public:
  ChannelWorker(const std::shared_ptr<grpc::Channel>& channel, int slots,
                const BenchCallFactory& calls, absl::Duration call_timeout)
      : call_timeout_(absl::ToChronoMicroseconds(call_timeout)) {
    slots_.reserve(slots);
    for (int i = 0; i < slots; ++i) slots_.push_back(Slot{calls(channel), {}, false});
  }

  void RunClosed(Window window) {
    window_ = window;
    for (Slot& slot : slots_) {
      slot.started = SteadyClock::now();
      Start(&slot);
    }
    size_t running = slots_.size();
    void* tag = nullptr;
    bool ok = false;
    while (running > 0 && queue_.Next(&tag, &ok)) {
      const SteadyTime now = SteadyClock::now();
      Slot* slot = static_cast<Slot*>(tag);
      finished_.fetch_add(1, std::memory_order_relaxed);
      if (now >= window_.start && now < window_.end) Count(*slot, now);
      if (now < window_.end) {
        slot->started = now;
        Start(slot);
      } else {
        --running;
      }
    }
    Drain();
  }

  // Starts the calls that `schedule` makes due before the window ends, each on a free slot, or
  // counts it as not sent when every slot is busy; then waits for the last call.
  void RunOpen(Window window, const Schedule& schedule) {
    window_ = window;
    std::vector<Slot*> free;
    free.reserve(slots_.size());
    for (Slot& slot : slots_) free.push_back(&slot);
    uint64_t k = 0;
    SteadyTime next = schedule.Due(k);
    void* tag = nullptr;
    bool ok = false;
    while (true) {
      SteadyTime now = SteadyClock::now();
      // After a stall every call that fell due is started at once, each keeping its own
      // scheduled time, as a caller that does not wait for the server would.
      while (next < window_.end && next <= now) {
        const bool in_window = next >= window_.start;
        if (in_window) ++scheduled_;
        if (free.empty()) {
          if (in_window) ++not_sent_;
        } else {
          Slot* slot = free.back();
          free.pop_back();
          slot->started = next;
          slot->counted = in_window;
          if (in_window) start_lag_.Record(MicrosBetween(next, now));
          Start(slot);
        }
        next = schedule.Due(++k);
        now = SteadyClock::now();
      }
      const bool schedule_done = next >= window_.end;
      if (schedule_done && free.size() == slots_.size()) break;
      grpc::CompletionQueue::NextStatus got;
      if (schedule_done) {
        got = queue_.Next(&tag, &ok) ? grpc::CompletionQueue::GOT_EVENT
                                     : grpc::CompletionQueue::SHUTDOWN;
      } else {
        got = queue_.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + (next - now));
      }
      if (got == grpc::CompletionQueue::SHUTDOWN) break;
      if (got != grpc::CompletionQueue::GOT_EVENT) continue;
      Slot* slot = static_cast<Slot*>(tag);
      finished_.fetch_add(1, std::memory_order_relaxed);
      if (slot->counted) Count(*slot, SteadyClock::now());
      free.push_back(slot);
    }
    Drain();
  }

  uint64_t finished() const { return finished_.load(std::memory_order_relaxed); }
  uint64_t counted() const { return counted_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }

  // REQUIRES: the run has returned.
  void AddTo(LoadResult* result) const {
    result->calls += counted();
    result->errors += failed();
    result->scheduled += scheduled_;
    result->not_sent += not_sent_;
    result->start_lag.Merge(start_lag_);
    for (int code = 0; code < kCodes; ++code) {
      if (latency_by_code_[code] == nullptr) continue;
      const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
      result->latency_by_code[name].Merge(*latency_by_code_[code]);
      if (code == 0) continue;
      result->errors_by_code[name] += latency_by_code_[code]->count();
      result->error_messages.emplace(name, error_messages_[code]);
    }
    result->latency.Merge(latency_);
    if (result->response_bytes == 0) result->response_bytes = response_bytes_;
  }

 private:
  struct Slot {
    std::unique_ptr<BenchCall> call;
    // When the call started (closed loop) or was due (open loop): its latency runs from here.
    SteadyTime started;
    // Open loop: the call was due within the window.
    bool counted;
  };

  void Start(Slot* slot) {
    slot->call->Start(&queue_, std::chrono::system_clock::now() + call_timeout_, slot);
  }

  void Count(const Slot& slot, SteadyTime now) {
    const uint64_t micros = MicrosBetween(slot.started, now);
    latency_.Record(micros);
    counted_.fetch_add(1, std::memory_order_relaxed);
    const grpc::Status& status = slot.call->status();
    int code = static_cast<int>(status.error_code());
    if (code < 0 || code >= kCodes) code = static_cast<int>(grpc::StatusCode::UNKNOWN);
    // A histogram is 230 KiB: only the codes seen get one.
    std::unique_ptr<LatencyHistogram>& by_code = latency_by_code_[code];
    const bool first = by_code == nullptr;
    if (first) by_code = std::make_unique<LatencyHistogram>();
    by_code->Record(micros);
    if (status.ok()) {
      if (response_bytes_ == 0) response_bytes_ = slot.call->response_bytes();
      return;
    }
    failed_.fetch_add(1, std::memory_order_relaxed);
    if (first) error_messages_[code] = status.error_message();
  }

  void Drain() {
    queue_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (queue_.Next(&tag, &ok)) {
    }
  }

  const std::chrono::microseconds call_timeout_;
  grpc::CompletionQueue queue_;
  std::vector<Slot> slots_;
  Window window_;
  LatencyHistogram latency_;
  std::array<std::unique_ptr<LatencyHistogram>, kCodes> latency_by_code_;
  std::array<std::string, kCodes> error_messages_;
  size_t response_bytes_ = 0;
  uint64_t scheduled_ = 0;
  uint64_t not_sent_ = 0;
  LatencyHistogram start_lag_;
  // Written by the worker's thread only, read by the progress line: apart from the rest, so that
  // those reads do not slow the worker's own writes.
  alignas(64) std::atomic<uint64_t> finished_{0};
  std::atomic<uint64_t> counted_{0};
  std::atomic<uint64_t> failed_{0};
};

}  // namespace

LoadResult RunLoad(const LoadOptions& options,
                   const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                   const BenchCallFactory& calls) {
  const int channel_count = static_cast<int>(channels.size());
  const bool open_loop = options.rate > 0;
  const int total_slots = open_loop ? options.max_in_flight : options.concurrency;
  std::vector<std::unique_ptr<ChannelWorker>> workers;
  for (int i = 0; i < channel_count; ++i) {
    // Round-robin: the first (total_slots % channels) channels get one slot more.
    const int slots = total_slots / channel_count + (i < total_slots % channel_count ? 1 : 0);
    workers.push_back(
        std::make_unique<ChannelWorker>(channels[i], slots, calls, options.call_timeout));
  }

  const SteadyTime first_call = SteadyClock::now();
  const Window window{first_call + absl::ToChronoNanoseconds(options.warmup),
                      first_call + absl::ToChronoNanoseconds(options.warmup + options.duration)};
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (int i = 0; i < channel_count; ++i) {
    ChannelWorker* worker = workers[i].get();
    if (open_loop) {
      threads.emplace_back(
          [worker, window, schedule = Schedule(first_call, options.rate, i, channel_count)] {
            worker->RunOpen(window, schedule);
          });
    } else {
      threads.emplace_back([worker, window] { worker->RunClosed(window); });
    }
  }

  // This thread samples the CPU clock at both ends of the window and reports progress between.
  absl::Duration cpu_at_start;
  absl::Duration cpu_at_end;
  bool window_started = false;
  SteadyTime next_report = first_call + std::chrono::seconds(1);
  uint64_t finished_before = 0;
  SteadyTime last_report = first_call;
  while (true) {
    SteadyTime wake = window.end;
    if (!window_started) wake = std::min(wake, window.start);
    if (options.on_progress) wake = std::min(wake, next_report);
    std::this_thread::sleep_until(wake);
    const SteadyTime now = SteadyClock::now();
    if (!window_started && now >= window.start) {
      cpu_at_start = ProcessCpuTime();
      window_started = true;
    }
    if (now >= window.end) {
      cpu_at_end = ProcessCpuTime();
      break;
    }
    if (options.on_progress && now >= next_report) {
      LoadProgress progress;
      progress.elapsed = absl::FromChrono(now - first_call);
      progress.warming_up = now < window.start;
      uint64_t finished = 0;
      for (const auto& worker : workers) {
        finished += worker->finished();
        progress.calls += worker->counted();
        progress.errors += worker->failed();
      }
      progress.recent_calls_per_second = static_cast<double>(finished - finished_before) /
                                         std::chrono::duration<double>(now - last_report).count();
      finished_before = finished;
      last_report = now;
      options.on_progress(progress);
      next_report += std::chrono::seconds(1);
    }
  }
  for (std::thread& thread : threads) thread.join();

  LoadResult result;
  result.window = options.duration;
  result.client_cpu = cpu_at_end - cpu_at_start;
  for (const auto& worker : workers) worker->AddTo(&result);
  return result;
}

}  // namespace ndx::bench
