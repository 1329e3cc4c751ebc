#include "ndx_bench/load_generator.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

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

// The slots of one channel, driven by one thread through one CompletionQueue. Run() is called
// once, on the worker's thread; the progress counters may be read from any thread meanwhile,
// everything else only after Run() has returned.
class ChannelWorker {
 public:
  ChannelWorker(const std::shared_ptr<grpc::Channel>& channel, int slots,
                const BenchCallFactory& calls, absl::Duration call_timeout)
      : call_timeout_(absl::ToChronoMicroseconds(call_timeout)) {
    slots_.reserve(slots);
    for (int i = 0; i < slots; ++i) slots_.push_back(Slot{calls(channel), {}});
  }

  void Run(Window window) {
    window_ = window;
    for (Slot& slot : slots_) Start(&slot);
    size_t running = slots_.size();
    void* tag = nullptr;
    bool ok = false;
    while (running > 0 && queue_.Next(&tag, &ok)) {
      const SteadyTime now = SteadyClock::now();
      Slot* slot = static_cast<Slot*>(tag);
      Finished(*slot, now);
      if (now < window_.end) {
        Start(slot);
      } else {
        --running;
      }
    }
    queue_.Shutdown();
    while (queue_.Next(&tag, &ok)) {
    }
  }

  uint64_t finished() const { return finished_.load(std::memory_order_relaxed); }
  uint64_t counted() const { return counted_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }

  // REQUIRES: Run() has returned.
  void AddTo(LoadResult* result) const {
    result->calls += counted();
    result->errors += failed();
    for (int code = 1; code < kCodes; ++code) {
      if (errors_by_code_[code] == 0) continue;
      const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
      result->errors_by_code[name] += errors_by_code_[code];
      result->error_messages.emplace(name, error_messages_[code]);
    }
    result->latency.Merge(latency_);
    if (result->response_bytes == 0) result->response_bytes = response_bytes_;
  }

 private:
  struct Slot {
    std::unique_ptr<BenchCall> call;
    SteadyTime started;
  };

  void Start(Slot* slot) {
    slot->started = SteadyClock::now();
    slot->call->Start(&queue_, std::chrono::system_clock::now() + call_timeout_, slot);
  }

  void Finished(const Slot& slot, SteadyTime now) {
    finished_.fetch_add(1, std::memory_order_relaxed);
    if (now < window_.start || now >= window_.end) return;
    const auto nanos =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.started).count();
    latency_.Record(static_cast<uint64_t>(std::max<int64_t>(0, nanos) + 500) / 1000);
    counted_.fetch_add(1, std::memory_order_relaxed);
    const grpc::Status& status = slot.call->status();
    if (status.ok()) {
      if (response_bytes_ == 0) response_bytes_ = slot.call->response_bytes();
      return;
    }
    failed_.fetch_add(1, std::memory_order_relaxed);
    int code = static_cast<int>(status.error_code());
    if (code <= 0 || code >= kCodes) code = static_cast<int>(grpc::StatusCode::UNKNOWN);
    if (errors_by_code_[code]++ == 0) error_messages_[code] = status.error_message();
  }

  const std::chrono::microseconds call_timeout_;
  grpc::CompletionQueue queue_;
  std::vector<Slot> slots_;
  Window window_;
  LatencyHistogram latency_;
  std::array<uint64_t, kCodes> errors_by_code_{};
  std::array<std::string, kCodes> error_messages_;
  size_t response_bytes_ = 0;
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
  std::vector<std::unique_ptr<ChannelWorker>> workers;
  for (int i = 0; i < channel_count; ++i) {
    // Round-robin: the first (concurrency % channels) channels get one slot more.
    const int slots =
        options.concurrency / channel_count + (i < options.concurrency % channel_count ? 1 : 0);
    workers.push_back(
        std::make_unique<ChannelWorker>(channels[i], slots, calls, options.call_timeout));
  }

  const SteadyTime first_call = SteadyClock::now();
  const Window window{first_call + absl::ToChronoNanoseconds(options.warmup),
                      first_call + absl::ToChronoNanoseconds(options.warmup + options.duration)};
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (auto& worker : workers) {
    threads.emplace_back([worker = worker.get(), window] { worker->Run(window); });
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
