// ndx-bench, the binary, against real ndx-gateway and ndx-adapter processes on 127.0.0.1: short
// runs whose counts and report shape are checked, never their timings.

#include <sys/wait.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "integration/federation.h"
#include "ndx_bench/latency_histogram.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kPurpose[] = "health-insurance-enrolment";
constexpr char kExistingKey[] = "001090000001";

// Every field of the JSON report (docs/ndx-bench.md), space-separated.
constexpr char kReportFields[] =
    "api method target concurrency connections warmup_s duration_s calls errors errors_by_code "
    "error_messages rps latency_min_us latency_mean_us latency_p50_us latency_p90_us "
    "latency_p99_us latency_p999_us latency_max_us response_bytes client_cpu_percent";

struct BenchRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  nlohmann::json report;  // null unless stdout held one JSON object
};

std::string ShellQuote(const std::string& text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "'\\''"}}), "'");
}

class NdxBenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    ASSERT_THAT(federation_.StartGateway(), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
    ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents,
                                  {"citizen_id", "full_name", "province"}, {kPurpose}),
                IsOk());
  }

  // Runs ndx-bench to its end (a minute at most) with stdout and stderr kept apart.
  BenchRun RunBench(const std::vector<std::string>& args) {
    ++runs_;
    const std::string out_file = federation_.dir().Join(absl::StrCat("bench.", runs_, ".out"));
    const std::string err_file = federation_.dir().Join(absl::StrCat("bench.", runs_, ".err"));
    std::vector<std::string> words = {"timeout", "60", NDX_BENCH_BIN};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<std::string> quoted;
    for (const std::string& word : words) quoted.push_back(ShellQuote(word));
    const std::string command = absl::StrCat(absl::StrJoin(quoted, " "), " > ",
                                             ShellQuote(out_file), " 2> ", ShellQuote(err_file));
    BenchRun run;
    const int status = std::system(command.c_str());
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = ReadFile(out_file).value_or("");
    run.err = ReadFile(err_file).value_or("");
    nlohmann::json parsed = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded() && parsed.is_object()) run.report = std::move(parsed);
    return run;
  }

  // The load and output flags of every run: short, no timing assertion depends on them.
  static std::vector<std::string> ShortJsonRun(std::vector<std::string> args) {
    for (const char* flag : {"--duration", "2s", "--warmup", "0.5s", "--output", "json",
                             "--concurrency", "4", "--connections", "2"}) {
      args.push_back(flag);
    }
    return args;
  }

  std::vector<std::string> ExchangeArgs(const std::string& key) {
    return ShortJsonRun({"--api", "exchange", "--profile", federation_.WriteProfile(kInsuranceNode),
                         "--server-id", "spiffe://ndx.test/gateway/core", "--dataset", kResidents,
                         "--record-key", key, "--purpose", kPurpose});
  }

  // Direct to the adapter, as the gateway calls it: with the gateway's identity (the adapter
  // answers only gateways named in its allowed_gateways) and the granted fields.
  std::vector<std::string> AdapterArgs() {
    crypto::TlsFilePaths gateway = federation_.pki().Gateway("core");
    return ShortJsonRun({"--api",        "adapter",
                         "--target",     federation_.population_endpoint(),
                         "--ca",         gateway.ca_file,
                         "--cert",       gateway.cert_file,
                         "--key",        gateway.key_file,
                         "--server-id",  absl::StrCat("spiffe://ndx.test/node/", kPopulationNode),
                         "--dataset",    kResidents,
                         "--record-key", kExistingKey,
                         "--purpose",    kPurpose,
                         "--fields",     "citizen_id,full_name,province",
                         "--caller",     kInsuranceNode});
  }

  static void ExpectCompleteReport(const BenchRun& run) {
    ASSERT_TRUE(run.report.is_object()) << "stdout: " << run.out << "\nstderr: " << run.err;
    EXPECT_EQ(run.out.find('\n'), run.out.size() - 1) << "one line: " << run.out;
    for (absl::string_view field : absl::StrSplit(kReportFields, ' ')) {
      EXPECT_TRUE(run.report.contains(std::string(field))) << field << " missing from " << run.out;
    }
    EXPECT_EQ(run.report["concurrency"], 4);
    EXPECT_EQ(run.report["connections"], 2);
    EXPECT_EQ(run.report["duration_s"], 2.0);
    EXPECT_EQ(run.report["warmup_s"], 0.5);
    // Percentiles of one histogram are ordered whatever the timings.
    EXPECT_LE(run.report["latency_min_us"], run.report["latency_p50_us"]);
    EXPECT_LE(run.report["latency_p50_us"], run.report["latency_p90_us"]);
    EXPECT_LE(run.report["latency_p90_us"], run.report["latency_p99_us"]);
    EXPECT_LE(run.report["latency_p99_us"], run.report["latency_p999_us"]);
    EXPECT_LE(run.report["latency_p999_us"], run.report["latency_max_us"]);
  }

  static void ExpectCleanRun(const BenchRun& run) {
    EXPECT_EQ(run.exit_code, 0) << run.err;
    ASSERT_NO_FATAL_FAILURE(ExpectCompleteReport(run));
    EXPECT_GT(run.report.value("calls", 0), 0);
    EXPECT_EQ(run.report.value("errors", -1), 0) << run.out;
    EXPECT_TRUE(run.report["errors_by_code"].empty()) << run.out;
    EXPECT_GT(run.report.value("response_bytes", 0), 0);
    EXPECT_GT(run.report.value("rps", 0.0), 0.0);
  }

  Federation federation_;
  int runs_ = 0;
};

TEST_F(NdxBenchTest, ExchangeGetThroughTheGateway) {
  BenchRun run = RunBench(ExchangeArgs(kExistingKey));
  ASSERT_NO_FATAL_FAILURE(ExpectCleanRun(run));
  EXPECT_EQ(run.report["api"], "exchange");
  EXPECT_EQ(run.report["method"], "ndx.v1.Exchange/Get");
  EXPECT_EQ(run.report["target"], federation_.gateway_address());
}

TEST_F(NdxBenchTest, AdapterFetchDirect) {
  BenchRun run = RunBench(AdapterArgs());
  ASSERT_NO_FATAL_FAILURE(ExpectCleanRun(run));
  EXPECT_EQ(run.report["api"], "adapter");
  EXPECT_EQ(run.report["method"], "ndx.v1.Adapter/Fetch");
  EXPECT_EQ(run.report["target"], federation_.population_endpoint());
}

TEST_F(NdxBenchTest, MissingRecordFailsEveryCallWithNotFound) {
  BenchRun run = RunBench(ExchangeArgs("009999999999"));
  EXPECT_EQ(run.exit_code, 1) << run.err;
  ASSERT_NO_FATAL_FAILURE(ExpectCompleteReport(run));
  const int calls = run.report.value("calls", 0);
  EXPECT_GT(calls, 0);
  EXPECT_EQ(run.report["errors"], calls);
  EXPECT_EQ(run.report["errors_by_code"], nlohmann::json({{"NOT_FOUND", calls}})) << run.out;
  EXPECT_TRUE(run.report["error_messages"].contains("NOT_FOUND"));
  EXPECT_EQ(run.report["response_bytes"], 0);
  EXPECT_THAT(run.err, HasSubstr("NOT_FOUND"));
}

TEST_F(NdxBenchTest, ServerWithAnotherIdentityIsASetupError) {
  // The gateway's certificate is not the adapter's: the handshake fails before any call.
  std::vector<std::string> args = ExchangeArgs(kExistingKey);
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--server-id") args[i + 1] = "spiffe://ndx.test/node/mops/population";
  }
  args.insert(args.end(), {"--connect-timeout", "2s"});
  BenchRun run = RunBench(args);
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_THAT(run.err, HasSubstr("not ready"));
  EXPECT_THAT(run.err, HasSubstr(federation_.gateway_address()));
  EXPECT_TRUE(run.out.empty()) << run.out;
}

TEST_F(NdxBenchTest, BadCommandLinesAreUsageErrors) {
  std::vector<std::string> more_connections_than_calls = ExchangeArgs(kExistingKey);
  more_connections_than_calls.insert(more_connections_than_calls.end(),
                                     {"--concurrency", "1", "--connections", "2"});
  EXPECT_EQ(RunBench(more_connections_than_calls).exit_code, 2);

  std::vector<std::string> duration_without_unit = ExchangeArgs(kExistingKey);
  duration_without_unit.insert(duration_without_unit.end(), {"--duration", "2"});
  BenchRun run = RunBench(duration_without_unit);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--duration"));

  EXPECT_EQ(RunBench({"--dataset", kResidents}).exit_code, 2);
}

// Open loop: calls start on a fixed schedule whatever the answers; every call due in the window
// is either counted or reported as not sent, and the counted ones are split by code.
TEST_F(NdxBenchTest, OpenLoopAccountsForEveryScheduledCall) {
  const std::vector<std::string> base = {"--api",         "exchange",
                                         "--profile",     federation_.WriteProfile(kInsuranceNode),
                                         "--server-id",   "spiffe://ndx.test/gateway/core",
                                         "--dataset",     kResidents,
                                         "--record-key",  kExistingKey,
                                         "--purpose",     kPurpose,
                                         "--duration",    "2s",
                                         "--warmup",      "0.5s",
                                         "--output",      "json",
                                         "--connections", "2"};
  std::vector<std::string> args = base;
  args.insert(args.end(), {"--rate", "200", "--max-in-flight", "50"});
  BenchRun run = RunBench(args);
  ASSERT_TRUE(run.report.is_object()) << "stdout: " << run.out << "\nstderr: " << run.err;
  EXPECT_EQ(run.report["loop"], "open");
  EXPECT_EQ(run.report["rate"], 200);
  EXPECT_EQ(run.report["max_in_flight"], 50);
  const int calls = run.report.value("calls", -1);
  const int not_sent = run.report.value("not_sent", -1);
  const int scheduled = run.report.value("scheduled", -1);
  // 200 a second for 2 s, wherever the window's edges fall between two scheduled calls.
  EXPECT_NEAR(scheduled, 400, 2) << run.out;
  EXPECT_EQ(scheduled, calls + not_sent) << run.out;
  EXPECT_EQ(run.exit_code, not_sent == 0 && run.report.value("errors", -1) == 0 ? 0 : 1) << run.err;
  int by_code = 0;
  for (const auto& [code, figures] : run.report["latency_by_code"].items()) {
    by_code += figures.value("calls", 0);
    EXPECT_LE(figures.value("latency_p50_us", 0), figures.value("latency_p99_us", 0)) << code;
  }
  EXPECT_EQ(by_code, calls) << run.out;
  EXPECT_EQ(run.report["latency_total"].value("calls", -1), calls) << run.out;

  // A fixed rate and a fixed number in flight are two different loads.
  std::vector<std::string> both = base;
  both.insert(both.end(), {"--rate", "200", "--concurrency", "4"});
  EXPECT_EQ(RunBench(both).exit_code, 2);
}

TEST(LatencyHistogramTest, ExactBelowTwoMillisecondsAndWithinATenthOfAPercentAbove) {
  bench::LatencyHistogram histogram;
  for (uint64_t micros = 1; micros <= 1000; ++micros) histogram.Record(micros);
  EXPECT_EQ(histogram.count(), 1000u);
  EXPECT_EQ(histogram.min(), 1u);
  EXPECT_EQ(histogram.Percentile(0.5), 500u);
  EXPECT_EQ(histogram.Percentile(0.9), 900u);
  EXPECT_EQ(histogram.Percentile(0.99), 990u);
  EXPECT_EQ(histogram.Percentile(0.999), 999u);
  EXPECT_EQ(histogram.Percentile(1.0), 1000u);
  EXPECT_DOUBLE_EQ(histogram.mean(), 500.5);

  bench::LatencyHistogram slow;
  for (uint64_t micros : {2047u, 2048u, 123457u, 9876543u}) slow.Record(micros);
  EXPECT_EQ(slow.Percentile(0.25), 2047u);
  EXPECT_LE(slow.Percentile(0.5) - 2048, 2048 / 1024);
  EXPECT_LE(slow.Percentile(0.75) - 123457, 123457 / 1024);
  EXPECT_EQ(slow.Percentile(1.0), 9876543u);  // the maximum is kept exactly

  bench::LatencyHistogram merged;
  merged.Merge(histogram);
  merged.Merge(slow);
  EXPECT_EQ(merged.count(), 1004u);
  EXPECT_EQ(merged.min(), 1u);
  EXPECT_EQ(merged.max(), 9876543u);
}

}  // namespace
}  // namespace ndx::testing
