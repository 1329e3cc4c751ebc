// ndx-adapter: serves an agency's datasets from its own database to the ndx gateway over mTLS.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <string>

#include "adapters/adapter_config.h"
#include "adapters/adapter_server.h"
#include "common/logging.h"
#include "common/process.h"

namespace {

// Exit codes: 0 after a clean stop, 1 when the server cannot run, 2 for a bad command line or
// config (the message on stderr says what to fix).
constexpr int kExitFailure = 1;
constexpr int kExitBadConfig = 2;

// The host part of "host:port" (IPv6 hosts keep their brackets).
std::string HostOf(const std::string& address) {
  size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

}  // namespace

int main(int argc, char** argv) {
  ndx::InitProcess("ndx-adapter");

  CLI::App app{"ndx-adapter: serves an agency's datasets to the ndx gateway over mTLS"};
  std::string config_path;
  std::string port_file;
  std::string log_level = "info";
  app.add_option("--config", config_path, "AdapterConfig in protobuf text format")->required();
  app.add_option("--port_file", port_file,
                 "once listening, write the bound port and a newline to this file");
  std::string metrics_port_file;
  app.add_option("--metrics_port_file", metrics_port_file,
                 "once serving metrics (metrics.listen_address), write their port to this file");
  app.add_option("--log_level", log_level, "trace, debug, info, warn, error, critical or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  std::string log_format = "text";
  app.add_option("--log_format", log_format,
                 "text, or json: JSON lines, one object per event (request id, caller, method, "
                 "code and latency on the lines about a call)")
      ->check(CLI::IsMember({"text", "json"}));
  // CLI11 reports through exceptions; they stop here.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitBadConfig;
  }
  ndx::SetLogFormat(*ndx::ParseLogFormat(log_format));
  spdlog::set_level(spdlog::level::from_str(log_level));

  ndx::StopSignals stop_signals;

  absl::StatusOr<ndx::adapters::LoadedAdapterConfig> config =
      ndx::adapters::LoadAdapterConfigFile(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "ndx-adapter: %s\n", std::string(config.status().message()).c_str());
    return kExitBadConfig;
  }
  absl::StatusOr<std::unique_ptr<ndx::adapters::AdapterServer>> server =
      ndx::adapters::AdapterServer::Start(*config);
  if (!server.ok()) {
    std::fprintf(stderr, "ndx-adapter: %s\n", std::string(server.status().message()).c_str());
    // Credential files are part of the config; failing to listen is not.
    return server.status().code() == absl::StatusCode::kUnavailable ? kExitFailure : kExitBadConfig;
  }
  const int port = (*server)->port();
  // --port_file last: its presence tells that everything is serving.
  if (!metrics_port_file.empty()) {
    absl::Status written =
        (*server)->metrics_port() == 0
            ? absl::FailedPreconditionError("the config sets no metrics.listen_address")
            : ndx::WritePortFile(metrics_port_file, (*server)->metrics_port());
    if (!written.ok()) {
      std::fprintf(stderr, "ndx-adapter: --metrics_port_file: %s\n",
                   std::string(written.message()).c_str());
      (*server)->Shutdown(absl::ZeroDuration());
      return kExitFailure;
    }
  }
  if (!port_file.empty()) {
    absl::Status written = ndx::WritePortFile(port_file, port);
    if (!written.ok()) {
      std::fprintf(stderr, "ndx-adapter: --port_file: %s\n",
                   std::string(written.message()).c_str());
      (*server)->Shutdown(absl::ZeroDuration());
      return kExitFailure;
    }
  }
  if ((*server)->metrics_port() != 0) {
    spdlog::info("metrics at https://{}:{}/metrics", HostOf(config->metrics.listen_address()),
                 (*server)->metrics_port());
  }
  for (const auto& [id, dataset] : config->datasets) {
    spdlog::info("serving dataset {} ({}) from {}", id, dataset.binding->message->full_name(),
                 dataset.backend->Source(*dataset.binding));
  }
  spdlog::info("ndx-adapter listening on {}:{}", HostOf(config->listen_address), port);

  int signal_number = stop_signals.Wait();
  spdlog::info("received {}; stopping", strsignal(signal_number));
  (*server)->Shutdown(absl::Seconds(5));
  spdlog::info("ndx-adapter stopped");
  return 0;
}
