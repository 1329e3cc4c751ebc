#ifndef NDX_CLI_CLI_H_
#define NDX_CLI_CLI_H_

#include <ostream>

namespace ndx::cli {

// Runs ndxctl with a command line: parses it, runs the command, prints its output on `out` and
// errors on `err` ("ndxctl: <CODE_NAME>: <message>"), and returns the exit code (cli_status.h).
// Never throws. Reads $NDX_PROFILE and $HOME to find the profile. The caller sets up logging
// (ndx::InitProcess) first. Not thread-safe: one call at a time per process.
int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

// Sends gRPC's own log lines to spdlog at debug level, so that a failed handshake is reported
// once, as ndxctl's error, rather than also as gRPC's noise. $GRPC_VERBOSITY still wins.
void RouteGrpcLogsToDebug();

}  // namespace ndx::cli

#endif  // NDX_CLI_CLI_H_
