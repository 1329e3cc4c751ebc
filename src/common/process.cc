#include "common/process.h"

#include <malloc.h>
#include <pthread.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/files.h"
#include "common/logging.h"

namespace ndx {

void InitProcess(const char* program_name) {
  ::umask(077);
  // glibc raises its mmap threshold to the size of each large block freed, after which blocks of
  // megabytes (a request near max_message_bytes, refused or not) come from the heap and stay
  // in the process after they are freed. A fixed threshold keeps them mmapped: returned at once.
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_default_logger(spdlog::stderr_logger_mt(program_name));
  SetLogFormat(LogFormat::kText);
}

StopSignals::StopSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

int StopSignals::Wait() {
  int signal_number = 0;
  sigwait(&signals_, &signal_number);
  return signal_number;
}

absl::Status WritePortFile(const std::string& path, int port) {
  return WriteFileAtomically(path, absl::StrCat(port, "\n"), 0644);
}

}  // namespace ndx
