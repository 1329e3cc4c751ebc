#ifndef NDX_AUDIT_TEE_SINK_H_
#define NDX_AUDIT_TEE_SINK_H_

#include <memory>

#include "audit/audit_sink.h"

namespace ndx::audit {

// Appends each record to a primary sink, whose result is the answer, and then to a secondary
// one on a best-effort basis (its failure is logged, not returned): the tamper-evident log
// decides, an operational log follows. Thread-safe if both sinks are.
class TeeSink : public AuditSink {
 public:
  TeeSink(std::unique_ptr<AuditSink> primary, std::unique_ptr<AuditSink> secondary)
      : primary_(std::move(primary)), secondary_(std::move(secondary)) {}

  void Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override;

 private:
  const std::unique_ptr<AuditSink> primary_;
  const std::unique_ptr<AuditSink> secondary_;
};

}  // namespace ndx::audit

#endif  // NDX_AUDIT_TEE_SINK_H_
