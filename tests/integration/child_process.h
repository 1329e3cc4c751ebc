#ifndef NDX_TESTS_INTEGRATION_CHILD_PROCESS_H_
#define NDX_TESTS_INTEGRATION_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ndx::testing {

// A program started by a test, with stdout and stderr going to `log_file`, in a process group of
// its own that holds whatever it spawns (an `ndxctl events subscribe --exec` handler and the
// handler's children). The destructor stops the program (SIGTERM, then SIGKILL) and then kills
// what is left of its group, so a test leaves no process behind, even one whose parent the test
// killed. Not thread-safe.
class ChildProcess {
 public:
  static absl::StatusOr<ChildProcess> Start(const std::string& binary,
                                            const std::vector<std::string>& args,
                                            const std::string& log_file);
  ChildProcess(ChildProcess&& other) noexcept
      : pid_(other.pid_), group_(other.group_), log_file_(std::move(other.log_file_)) {
    other.pid_ = -1;
    other.group_ = -1;
  }
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess() { Stop(); }

  // SIGTERM, then SIGKILL after `grace`; then SIGKILL to every process left in its group. Returns
  // the program's exit status as waitpid reports it, or -1 when it was not running.
  int Stop(absl::Duration grace = absl::Seconds(5));
  // SIGKILL to the program alone, as a crash would: what it spawned lives on until Stop or the
  // destructor.
  void Kill();
  bool running() const { return pid_ > 0; }
  // The program's process id; -1 once it is stopped or reaped.
  pid_t pid() const { return pid_; }
  // True once the process has exited (it is then reaped).
  bool Exited();
  const std::string& log_file() const { return log_file_; }

 private:
  ChildProcess(pid_t pid, std::string log_file)
      : pid_(pid), group_(pid), log_file_(std::move(log_file)) {}
  // Kills what is left of the process group.
  void KillGroup();

  pid_t pid_ = -1;
  // The process group (the program's pid), kept after the program exits for KillGroup.
  pid_t group_ = -1;
  std::string log_file_;
};

// Waits until `path` holds a port number (written by --port_file), up to `timeout`, or until
// `process` exits.
absl::StatusOr<int> WaitForPortFile(const std::string& path, absl::Duration timeout,
                                    ChildProcess* process);

}  // namespace ndx::testing

#endif  // NDX_TESTS_INTEGRATION_CHILD_PROCESS_H_
