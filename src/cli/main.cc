// ndxctl: the command line of ndx. Everything but process start-up lives in ndx_cli (cli.h), so
// that tests run the same code.

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "cli/cli.h"
#include "common/process.h"

int main(int argc, char** argv) {
  ndx::InitProcess("ndxctl");
  // A command line tool speaks through its output and exit code; warnings and worse only, unless
  // $NDX_LOG_LEVEL asks for more (debug also shows gRPC's own messages).
  spdlog::set_level(spdlog::level::warn);
  if (const char* level = std::getenv("NDX_LOG_LEVEL"); level != nullptr) {
    spdlog::level::level_enum parsed = spdlog::level::from_str(level);
    // from_str answers "off" for names it does not know; only an explicit "off" turns logs off.
    if (parsed != spdlog::level::off || std::string(level) == "off") spdlog::set_level(parsed);
  }
  ndx::cli::RouteGrpcLogsToDebug();
  return ndx::cli::RunCli(argc, argv, std::cout, std::cerr);
}
