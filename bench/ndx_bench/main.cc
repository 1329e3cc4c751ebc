// ndx-bench: a load generator for ndx's own API, in the spirit of ghz, h2load and wrk2. It keeps
// N calls in flight on C mTLS connections (closed loop), or starts R calls a second on a fixed
// schedule whatever the answers (open loop), for a fixed time, and reports throughput and
// latency percentiles per gRPC code, so that the gateway's cost per request can be set against a
// direct call to the owner's adapter, and its behaviour measured under more load than it can
// serve (docs/ndx-bench.md).

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/cli.h"
#include "cli/cli_status.h"
#include "cli/gateway_client.h"
#include "cli/profile.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "crypto/spiffe_id.h"
#include "ndx_bench/bench_call.h"
#include "ndx_bench/channels.h"
#include "ndx_bench/duration_flag.h"
#include "ndx_bench/load_generator.h"
#include "ndx_bench/report.h"

namespace ndx::bench {
namespace {

// Exit codes, part of the interface (docs/ndx-bench.md): scripts notice a run with failures.
constexpr int kExitOk = 0;
constexpr int kExitCallsFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitSetup = 3;

// Runs at least this long get the progress line on a terminal without --progress.
constexpr absl::Duration kProgressAfter = absl::Seconds(5);

struct Flags {
  std::string api = "exchange";
  cli::ConnectionFlags connection;
  std::string server_id;
  std::string dataset;
  std::string record_key;
  std::string purpose;
  std::vector<std::string> fields;
  std::string caller = "bench/ndx-bench";
  int concurrency = 1;
  double rate = 0;
  int max_in_flight = 1000;
  int connections = 1;
  std::string duration = "10s";
  std::string warmup = "1s";
  std::string timeout = "10s";
  std::string connect_timeout = "10s";
  std::string output = "table";
  bool progress = false;
  bool retry = false;
};

// The flags checked and resolved into what a run needs.
struct Run {
  RunDescription description;
  crypto::TlsFilePaths tls;
  std::optional<crypto::SpiffeId> server_id;
  ReadTarget read;
  LoadOptions load;
  absl::Duration connect_timeout;
  // The gRPC target of the address or addresses given (cli::GatewayTarget).
  std::string channel_target;
  cli::GatewayRetries retries = cli::GatewayRetries::kNone;
};

void AddFlags(CLI::App& app, Flags& f) {
  app.add_option("--api", f.api,
                 "exchange: ndx.v1.Exchange/Get on a gateway (default); adapter: "
                 "ndx.v1.Adapter/Fetch on an adapter or a proxy in front of one")
      ->check(CLI::IsMember({"exchange", "adapter"}));
  app.add_option("--target,--gateway", f.connection.gateway,
                 "Server address HOST:PORT, or several IP:PORT of the gateway's replicas, "
                 "comma-separated (for --api exchange, the profile's gateway by default)");
  app.add_option("--dataset", f.dataset, "Dataset id AGENCY/NAME")->required();
  app.add_option("--record-key", f.record_key, "Key of the record every call reads")->required();
  app.add_option("--purpose", f.purpose, "Purpose of the read (one of the grant's)")->required();
  app.add_option("--fields", f.fields,
                 "Comma-separated fields. exchange: those asked of the gateway (default: all "
                 "granted). adapter: those the gateway would forward, i.e. the granted ones")
      ->delimiter(',');
  app.add_option("--caller", f.caller,
                 "adapter: the consumer node the RequestContext names (default bench/ndx-bench)");
  CLI::Option* concurrency =
      app.add_option("--concurrency", f.concurrency,
                     "Closed loop: calls in flight at every moment (default 1)")
          ->check(CLI::Range(1, 100000));
  app.add_option("--rate", f.rate,
                 "Open loop: calls started per second on a fixed schedule, whatever the answers; "
                 "latency counts from each call's scheduled time")
      ->check(CLI::Range(0.001, 1e6))
      ->excludes(concurrency);
  app.add_option("--max-in-flight", f.max_in_flight,
                 "Open loop: calls outstanding at most; a call due beyond is not sent, and "
                 "counted as such (default 1000)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--connections", f.connections,
                 "Connections the calls are spread over (default 1)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--duration", f.duration, "Measured time, e.g. 10s (default), 500ms, 2m");
  app.add_option("--warmup", f.warmup, "Uncounted time before it (default 1s; 0 for none)");
  app.add_option("--timeout", f.timeout, "Deadline of each call (default 10s)");
  app.add_option("--connect-timeout", f.connect_timeout,
                 "How long start-up waits for every connection to be ready (default 10s)");
  app.add_option("--profile", f.connection.profile,
                 "ndxctl profile (CliProfile text proto) for the address and TLS files");
  app.add_option("--ca", f.connection.ca_file, "CA certificate (PEM) the server must chain to");
  app.add_option("--cert", f.connection.cert_file, "Our certificate (PEM)");
  app.add_option("--key", f.connection.key_file, "Our private key (PEM, mode 0600)");
  app.add_option("--server-id", f.server_id,
                 "Require the server's certificate to carry this SPIFFE id, e.g. "
                 "spiffe://ndx.example/gateway/core (default: for exchange, the gateway_id of "
                 "the profile; else any identity from the CA)");
  app.add_option("--output", f.output, "table (default) or json (one line)")
      ->check(CLI::IsMember({"table", "json"}));
  app.add_flag("--retry", f.retry,
               "Retry idempotent calls (Exchange Get) that fail UNAVAILABLE, up to 3 attempts, as "
               "ndxctl does (default: every failure counts)");
  app.add_flag("--progress", f.progress,
               "A progress line on stderr every second (default: on a terminal, for runs over "
               "5s)");
}

// kInvalidArgument marked as a usage error (exit 2) or any other status (exit 3).
absl::StatusOr<Run> Resolve(const Flags& f) {
  Run run;
  struct DurationFlag {
    const char* name;
    const std::string& text;
    bool allow_zero;
    absl::Duration* value;
  };
  for (const DurationFlag& flag : {
           DurationFlag{"--duration", f.duration, false, &run.load.duration},
           DurationFlag{"--warmup", f.warmup, true, &run.load.warmup},
           DurationFlag{"--timeout", f.timeout, false, &run.load.call_timeout},
           DurationFlag{"--connect-timeout", f.connect_timeout, false, &run.connect_timeout},
       }) {
    absl::StatusOr<absl::Duration> duration =
        ParseDurationFlag(flag.name, flag.text, flag.allow_zero);
    if (!duration.ok()) return cli::UsageError(duration.status().message());
    *flag.value = *duration;
  }
  run.load.concurrency = f.concurrency;
  run.load.rate = f.rate;
  run.load.max_in_flight = f.max_in_flight;
  if (f.rate > 0 && f.connections > f.max_in_flight) {
    return cli::UsageError(absl::StrCat("--connections (", f.connections,
                                        ") is more than --max-in-flight (", f.max_in_flight,
                                        "): a connection without a call in flight measures "
                                        "nothing"));
  }
  if (f.rate == 0 && f.connections > f.concurrency) {
    return cli::UsageError(absl::StrCat("--connections (", f.connections,
                                        ") is more than --concurrency (", f.concurrency,
                                        "): a connection without a call in flight measures "
                                        "nothing"));
  }
  if (f.api == "adapter" && f.connection.gateway.empty()) {
    return cli::UsageError("--api adapter needs --target: the profile names a gateway");
  }
  if (!f.server_id.empty()) {
    absl::StatusOr<crypto::SpiffeId> id = crypto::ParseSpiffeId(f.server_id);
    if (!id.ok()) return cli::UsageError(absl::StrCat("--server-id: ", id.status().message()));
    run.server_id = *id;
  }
  absl::StatusOr<cli::ConnectionSettings> connection = cli::ResolveConnection(
      f.connection,
      cli::FindProfilePath(f.connection.profile, std::getenv("NDX_PROFILE"), std::getenv("HOME")),
      cli::GatewayIdentity::kOptional);
  if (!connection.ok()) return connection.status();
  // A profile naming its gateway pins it here as it does in ndxctl.
  if (!run.server_id.has_value() && f.api == "exchange" && !connection->gateway_id.empty()) {
    absl::StatusOr<std::string> trust_domain = cli::TrustDomainOfCaFile(connection->tls.ca_file);
    if (!trust_domain.ok()) return trust_domain.status();
    run.server_id = crypto::SpiffeId::Gateway(*trust_domain, connection->gateway_id);
  }
  run.tls = connection->tls;
  NDX_ASSIGN_OR_RETURN(run.channel_target, cli::GatewayTarget(connection->gateway));
  run.retries = f.retry ? cli::GatewayRetries::kIdempotent : cli::GatewayRetries::kNone;
  run.read = {.dataset = f.dataset,
              .key = f.record_key,
              .purpose = f.purpose,
              .fields = f.fields,
              .caller = f.caller};
  run.description = {.api = f.api,
                     .target = connection->gateway,
                     .concurrency = f.concurrency,
                     .rate = f.rate,
                     .max_in_flight = f.max_in_flight,
                     .connections = f.connections,
                     .warmup = run.load.warmup};
  return run;
}

void Complain(const std::string& message) {
  std::fprintf(stderr, "ndx-bench: %s\n", message.c_str());
}

int RunBench(const Flags& flags) {
  absl::StatusOr<Run> run = Resolve(flags);
  if (!run.ok()) {
    Complain(std::string(run.status().message()));
    return cli::IsUsageError(run.status()) ? kExitUsage : kExitSetup;
  }
  if (flags.api == "adapter" && flags.fields.empty()) {
    Complain(
        "note: no --fields, so the adapter reads every field of the record; the gateway forwards "
        "only the granted fields, pass them to compare like with like");
  }
  const BenchCallFactory calls =
      flags.api == "adapter" ? AdapterFetchCalls(run->read) : ExchangeGetCalls(run->read);

  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      OpenChannels(run->channel_target, cli::GatewayChannelArguments(run->retries), run->tls,
                   run->server_id, flags.connections);
  if (!channels.ok()) {
    Complain(std::string(channels.status().message()));
    return kExitSetup;
  }
  absl::Status connected = WaitUntilConnected(*channels, run->connect_timeout, calls);
  if (!connected.ok()) {
    Complain(absl::StrCat(run->description.target, ": ", connected.message()));
    return kExitSetup;
  }

  const bool terminal = isatty(STDERR_FILENO) == 1;
  const absl::Duration total = run->load.warmup + run->load.duration;
  if (flags.progress || (terminal && total > kProgressAfter)) {
    run->load.on_progress = [terminal, total](const LoadProgress& progress) {
      // On a terminal the line rewrites itself; in a log file each second has its own line.
      std::fprintf(stderr, terminal ? "\r%s\x1b[K" : "%s\n",
                   FormatProgress(progress, total).c_str());
      std::fflush(stderr);
    };
  }
  LoadResult result = RunLoad(run->load, *channels, calls);
  if (run->load.on_progress && terminal) std::fprintf(stderr, "\r\x1b[K");

  std::string report = flags.output == "json" ? FormatJson(run->description, result)
                                              : FormatTable(run->description, result);
  std::fwrite(report.data(), 1, report.size(), stdout);
  std::fflush(stdout);

  if (result.calls == 0) {
    Complain("no call finished within the measured window; try a longer --duration");
    return kExitCallsFailed;
  }
  const bool failed = result.errors > 0 || result.not_sent > 0;
  if (result.not_sent > 0) {
    Complain(absl::StrCat(result.not_sent, " of ", result.scheduled, " calls due were not sent: ",
                          flags.max_in_flight, " were outstanding at their time"));
  }
  if (result.errors > 0) {
    std::vector<std::string> codes;
    for (const auto& [code, count] : result.errors_by_code) {
      codes.push_back(absl::StrCat(code, " ", count));
    }
    Complain(absl::StrCat(result.errors, " of ", result.calls,
                          " calls failed: ", absl::StrJoin(codes, ", ")));
  }
  return failed ? kExitCallsFailed : kExitOk;
}

}  // namespace
}  // namespace ndx::bench

int main(int argc, char** argv) {
  // InitProcess calls absl::SetMutexDeadlockDetectionMode(kIgnore): Debian's Abseil (built
  // without NDEBUG) would otherwise do deadlock bookkeeping on every absl::Mutex, gRPC's included,
  // and that cost would be measured as the server's.
  ndx::InitProcess("ndx-bench");
  spdlog::set_level(spdlog::level::warn);
  if (const char* level = std::getenv("NDX_LOG_LEVEL"); level != nullptr) {
    spdlog::set_level(spdlog::level::from_str(level));
  }
  // A failed handshake is reported once, in the connection error, not also as gRPC's noise.
  ndx::cli::RouteGrpcLogsToDebug();

  CLI::App app{"ndx-bench: closed- or open-loop load on ndx's Exchange or Adapter API over mTLS",
               "ndx-bench"};
  ndx::bench::Flags flags;
  ndx::bench::AddFlags(app, flags);
  // CLI11 reports through exceptions; they stop here.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? ndx::bench::kExitOk : ndx::bench::kExitUsage;
  }
  return ndx::bench::RunBench(flags);
}
