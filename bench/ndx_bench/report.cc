#include "ndx_bench/report.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ndx::bench {
namespace {

double Seconds(absl::Duration duration) { return absl::ToDoubleSeconds(duration); }

double CallsPerSecond(const LoadResult& result) {
  const double seconds = Seconds(result.window);
  return seconds > 0 ? static_cast<double>(result.calls) / seconds : 0.0;
}

// 100 is one core busy for the whole window.
double CpuPercent(const LoadResult& result) {
  const double seconds = Seconds(result.window);
  return seconds > 0 ? 100.0 * Seconds(result.client_cpu) / seconds : 0.0;
}

// Dividing by a power of ten gives the double nearest to the decimal (6471.4, not the
// 6471.4000000000005 that multiplying by 0.1 gives).
double RoundToTenths(double value) { return std::round(value * 10) / 10; }

std::string Method(const std::string& api) {
  return api == "adapter" ? "ndx.v1.Adapter/Fetch" : "ndx.v1.Exchange/Get";
}

}  // namespace

std::string FormatJson(const RunDescription& run, const LoadResult& result) {
  const LatencyHistogram& latency = result.latency;
  nlohmann::ordered_json json = {
      {"api", run.api},
      {"method", Method(run.api)},
      {"target", run.target},
      {"concurrency", run.concurrency},
      {"connections", run.connections},
      {"warmup_s", Seconds(run.warmup)},
      {"duration_s", Seconds(result.window)},
      {"calls", result.calls},
      {"errors", result.errors},
      {"errors_by_code", result.errors_by_code},
      {"error_messages", result.error_messages},
      {"rps", RoundToTenths(CallsPerSecond(result))},
      {"latency_min_us", latency.min()},
      {"latency_mean_us", RoundToTenths(latency.mean())},
      {"latency_p50_us", latency.Percentile(0.50)},
      {"latency_p90_us", latency.Percentile(0.90)},
      {"latency_p99_us", latency.Percentile(0.99)},
      {"latency_p999_us", latency.Percentile(0.999)},
      {"latency_max_us", latency.max()},
      {"response_bytes", result.response_bytes},
      {"client_cpu_percent", RoundToTenths(CpuPercent(result))},
  };
  // Invalid UTF-8 in a server's error message must not make the report fail.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string FormatTable(const RunDescription& run, const LoadResult& result) {
  const LatencyHistogram& latency = result.latency;
  std::string table = absl::StrFormat(
      "%-15s%s (%s)\n%-15s%s\n%-15s%d in flight on %d connection%s, %s measured%s\n"
      "%-15s%d (%.1f per second)\n%-15s%d\n",
      "api", run.api, Method(run.api), "target", run.target, "concurrency", run.concurrency,
      run.connections, run.connections == 1 ? "" : "s", absl::FormatDuration(result.window),
      run.warmup == absl::ZeroDuration()
          ? " without warm-up"
          : absl::StrCat(" after ", absl::FormatDuration(run.warmup), " of warm-up"),
      "calls", result.calls, CallsPerSecond(result), "errors", result.errors);
  for (const auto& [code, count] : result.errors_by_code) {
    auto message = result.error_messages.find(code);
    absl::StrAppendFormat(&table, "  %-19s%d  %s\n", code, count,
                          message == result.error_messages.end() ? "" : message->second);
  }
  absl::StrAppendFormat(
      &table, "%-15smin %d  mean %.1f  p50 %d  p90 %d  p99 %d  p99.9 %d  max %d\n", "latency (us)",
      latency.min(), latency.mean(), latency.Percentile(0.50), latency.Percentile(0.90),
      latency.Percentile(0.99), latency.Percentile(0.999), latency.max());
  absl::StrAppendFormat(&table, "%-15s%d bytes%s\n", "response", result.response_bytes,
                        result.response_bytes == 0 ? " (no call succeeded)" : "");
  absl::StrAppendFormat(&table, "%-15s%.0f%% of one core\n", "client CPU", CpuPercent(result));
  return table;
}

std::string FormatProgress(const LoadProgress& progress, absl::Duration total) {
  return absl::StrFormat("%s/%s  %s  calls %d  errors %d  %.0f calls/s",
                         absl::FormatDuration(absl::Trunc(progress.elapsed, absl::Seconds(1))),
                         absl::FormatDuration(total),
                         progress.warming_up ? "warm-up " : "measuring", progress.calls,
                         progress.errors, progress.recent_calls_per_second);
}

}  // namespace ndx::bench
