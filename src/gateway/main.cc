// ndx-gateway: the platform's central gRPC gateway.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstring>

#include "common/logging.h"
#include "common/process.h"
#include "gateway/gateway_config.h"
#include "gateway/gateway_server.h"

int main(int argc, char** argv) {
  ndx::InitProcess("ndx-gateway");
  CLI::App app{
      "ndx-gateway: authenticates nodes over mTLS, authorizes reads against the registry, "
      "forwards them to the owners' adapters and audits every decision."};
  std::string config_path;
  std::string port_file;
  std::string json_api_port_file;
  std::string log_level = "info";
  app.add_option("--config", config_path, "GatewayConfig in protobuf text format")->required();
  app.add_option("--port_file", port_file,
                 "Write the bound port here once serving (for listen_address port 0)");
  app.add_option("--json_api_port_file", json_api_port_file,
                 "Write the REST/JSON API's bound port here once serving (json_api port 0)");
  std::string metrics_port_file;
  app.add_option("--metrics_port_file", metrics_port_file,
                 "Write the metrics listener's port here once serving (metrics.listen_address)");
  app.add_option("--log_level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  std::string log_format = "text";
  app.add_option("--log_format", log_format,
                 "text, or json: JSON lines, one object per event (request id, caller, method, "
                 "code and latency on the lines about a call)")
      ->check(CLI::IsMember({"text", "json"}));
  // CLI11 reports through exceptions; they stop here. A usage error exits 2, like a bad config.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  ndx::SetLogFormat(*ndx::ParseLogFormat(log_format));
  spdlog::set_level(spdlog::level::from_str(log_level));

  ndx::StopSignals stop_signals;

  absl::StatusOr<ndx::v1::GatewayConfig> config = ndx::gateway::LoadGatewayConfig(config_path);
  if (!config.ok()) {
    spdlog::critical("{}", config.status().ToString());
    return 2;
  }
  auto gateway = ndx::gateway::GatewayServer::Start(*config);
  if (!gateway.ok()) {
    spdlog::critical("cannot start: {}", gateway.status().ToString());
    return 1;
  }
  spdlog::info("ndx-gateway listening on {} (port {})", config->listen_address(),
               (*gateway)->port());
  // --port_file last: its presence tells that everything is serving.
  const struct {
    const std::string& file;
    int port;
    const char* missing;
  } port_files[] = {
      {json_api_port_file, (*gateway)->json_api_port(), "the config sets no json_api"},
      {metrics_port_file, (*gateway)->metrics_port(), "the config sets no metrics.listen_address"},
      {port_file, (*gateway)->port(), ""},
  };
  for (const auto& [file, port, missing] : port_files) {
    if (file.empty()) continue;
    if (port == 0) {
      spdlog::critical("a port file was asked for but {}", missing);
      return 2;
    }
    absl::Status written = ndx::WritePortFile(file, port);
    if (!written.ok()) {
      spdlog::critical("{}", written.ToString());
      return 1;
    }
  }
  int signal_number = stop_signals.Wait();
  spdlog::info("received {}; stopping", strsignal(signal_number));
  (*gateway)->Shutdown(absl::Seconds(5));
  return 0;
}
