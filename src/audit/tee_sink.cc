#include "audit/tee_sink.h"

#include <spdlog/spdlog.h>

namespace ndx::audit {

void TeeSink::Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) {
  AuditRecord copy = record;
  secondary_->Append(std::move(copy), [](absl::Status status) {
    if (!status.ok()) spdlog::warn("secondary audit sink: {}", status.ToString());
  });
  primary_->Append(std::move(record), std::move(done));
}

}  // namespace ndx::audit
