#ifndef NDX_COMMON_PROCESS_H_
#define NDX_COMMON_PROCESS_H_

#include <signal.h>

#include <string>

#include "absl/status/status.h"

namespace ndx {

// Start-up common to every ndx binary: sets the umask to 077, turns off Abseil's deadlock-cycle
// bookkeeping (Debian's Abseil is built without NDEBUG, which makes every mutex pay for it) and
// sets up logging to stderr with the given program name.
// The umask makes private whatever the process (or a library it uses: RocksDB, SQLite) creates
// without an explicit mode: the gateway's stores hold records about citizens, the adapter's files
// too, and ndxctl writes query answers and exports. Files meant to be shared (certificates, the
// audit verifier key, the port file) are written with an explicit mode, which WriteFileAtomically
// sets exactly. Children inherit the umask, ndxctl's --exec handlers included.
void InitProcess(const char* program_name);

// SIGTERM and SIGINT, blocked from construction on in the constructing thread and every thread it
// starts later, so that only Wait() takes them, in an ordinary thread where stopping a server is
// safe. Construct it in main() before any server starts its threads. Not thread-safe.
class StopSignals {
 public:
  StopSignals();
  // Blocks until one of the signals arrives; returns its number.
  int Wait();

 private:
  sigset_t signals_;
};

// Writes "<port>\n" atomically to `path`, for the --port_file flag of the servers: a supervisor
// or a test that asked for port 0 learns the bound port once the server accepts calls.
absl::Status WritePortFile(const std::string& path, int port);

}  // namespace ndx

#endif  // NDX_COMMON_PROCESS_H_
