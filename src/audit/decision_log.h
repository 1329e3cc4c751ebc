#ifndef NDX_AUDIT_DECISION_LOG_H_
#define NDX_AUDIT_DECISION_LOG_H_

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "audit/audit_sink.h"

namespace ndx::audit {

// An AuditSink that writes one JSON object per line to a file (or stderr) and flushes it to the
// operating system before reporting success. It is the operational decision log: complete, but
// not tamper-evident. Thread-safe.
class DecisionLog : public AuditSink {
 public:
  // Appends to `path`, created 0600 if missing; an empty path writes to stderr.
  static absl::StatusOr<std::unique_ptr<DecisionLog>> Open(const std::string& path);
  ~DecisionLog() override;

  void Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override;

  // The JSON line written for `record`, without the newline.
  static std::string ToJson(const AuditRecord& record);

 private:
  DecisionLog(int fd, bool owned) : fd_(fd), owned_(owned) {}

  absl::Mutex mutex_;
  const int fd_;
  const bool owned_;
};

}  // namespace ndx::audit

#endif  // NDX_AUDIT_DECISION_LOG_H_
