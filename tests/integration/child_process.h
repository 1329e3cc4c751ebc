#ifndef NDX_TESTS_INTEGRATION_CHILD_PROCESS_H_
#define NDX_TESTS_INTEGRATION_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ndx::testing {

// A program started by a test, with stdout and stderr going to `log_file`. The destructor stops
// it (SIGTERM, then SIGKILL), so a failing test leaves no process behind. Not thread-safe.
class ChildProcess {
 public:
  static absl::StatusOr<ChildProcess> Start(const std::string& binary,
                                            const std::vector<std::string>& args,
                                            const std::string& log_file);
  ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_), log_file_(other.log_file_) {
    other.pid_ = -1;
  }
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess() { Stop(); }

  // SIGTERM, then SIGKILL after `grace`; returns the exit status as waitpid reports it, or -1
  // when it was not running.
  int Stop(absl::Duration grace = absl::Seconds(5));
  // SIGKILL, as a crash would.
  void Kill();
  bool running() const { return pid_ > 0; }
  // True once the process has exited (it is then reaped).
  bool Exited();
  const std::string& log_file() const { return log_file_; }

 private:
  ChildProcess(pid_t pid, std::string log_file) : pid_(pid), log_file_(std::move(log_file)) {}
  pid_t pid_ = -1;
  std::string log_file_;
};

// Waits until `path` holds a port number (written by --port_file), up to `timeout`, or until
// `process` exits.
absl::StatusOr<int> WaitForPortFile(const std::string& path, absl::Duration timeout,
                                    ChildProcess* process);

}  // namespace ndx::testing

#endif  // NDX_TESTS_INTEGRATION_CHILD_PROCESS_H_
