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

// The calls counted, and their latency percentiles, for one code or for all.
nlohmann::ordered_json LatencyJson(const LatencyHistogram& latency) {
  return {{"calls", latency.count()},
          {"latency_p50_us", latency.Percentile(0.50)},
          {"latency_p90_us", latency.Percentile(0.90)},
          {"latency_p99_us", latency.Percentile(0.99)},
          {"latency_max_us", latency.max()}};
}

std::string LatencyLine(const std::string& name, const LatencyHistogram& latency) {
  return absl::StrFormat("  %-19s%10d %9d %9d %9d %9d\n", name, latency.count(),
                         latency.Percentile(0.50), latency.Percentile(0.90),
                         latency.Percentile(0.99), latency.max());
}

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
      {"loop", run.rate > 0 ? "open" : "closed"},
  };
  nlohmann::ordered_json by_code = nlohmann::ordered_json::object();
  for (const auto& [code, histogram] : result.latency_by_code)
    by_code[code] = LatencyJson(histogram);
  json["latency_by_code"] = by_code;
  json["latency_total"] = LatencyJson(latency);
  if (run.rate > 0) {
    json["rate"] = run.rate;
    json["max_in_flight"] = run.max_in_flight;
    json["scheduled"] = result.scheduled;
    json["not_sent"] = result.not_sent;
    json["start_lag_p99_us"] = result.start_lag.Percentile(0.99);
    json["start_lag_max_us"] = result.start_lag.max();
  }
  // Invalid UTF-8 in a server's error message must not make the report fail.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string FormatTable(const RunDescription& run, const LoadResult& result) {
  const LatencyHistogram& latency = result.latency;
  const std::string load =
      run.rate > 0 ? absl::StrFormat("%-15s%g calls/s started on schedule, at most %d outstanding",
                                     "rate", run.rate, run.max_in_flight)
                   : absl::StrFormat("%-15s%d in flight", "concurrency", run.concurrency);
  std::string table = absl::StrFormat(
      "%-15s%s (%s)\n%-15s%s\n%s on %d connection%s, %s measured%s\n"
      "%-15s%d (%.1f per second)\n",
      "api", run.api, Method(run.api), "target", run.target, load, run.connections,
      run.connections == 1 ? "" : "s", absl::FormatDuration(result.window),
      run.warmup == absl::ZeroDuration()
          ? " without warm-up"
          : absl::StrCat(" after ", absl::FormatDuration(run.warmup), " of warm-up"),
      "calls", result.calls, CallsPerSecond(result));
  if (run.rate > 0) {
    absl::StrAppendFormat(&table,
                          "%-15s%d due, %d not sent (%d outstanding already); start lag p99 %d "
                          "max %d us\n",
                          "schedule", result.scheduled, result.not_sent, run.max_in_flight,
                          result.start_lag.Percentile(0.99), result.start_lag.max());
  }
  absl::StrAppendFormat(&table, "%-15s%d\n", "errors", result.errors);
  for (const auto& [code, count] : result.errors_by_code) {
    auto message = result.error_messages.find(code);
    absl::StrAppendFormat(&table, "  %-19s%d  %s\n", code, count,
                          message == result.error_messages.end() ? "" : message->second);
  }
  absl::StrAppendFormat(
      &table, "%-15smin %d  mean %.1f  p50 %d  p90 %d  p99 %d  p99.9 %d  max %d\n", "latency (us)",
      latency.min(), latency.mean(), latency.Percentile(0.50), latency.Percentile(0.90),
      latency.Percentile(0.99), latency.Percentile(0.999), latency.max());
  absl::StrAppendFormat(&table, "%-21s%10s %9s %9s %9s %9s\n", "by code", "calls", "p50 us",
                        "p90 us", "p99 us", "max us");
  for (const auto& [code, histogram] : result.latency_by_code) {
    table += LatencyLine(code, histogram);
  }
  table += LatencyLine("total", latency);
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
