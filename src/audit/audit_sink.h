#ifndef NDX_AUDIT_AUDIT_SINK_H_
#define NDX_AUDIT_AUDIT_SINK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ndx/v1/registry.pb.h"

namespace ndx::audit {

// One decision of the gateway, allowed or refused.
struct AuditRecord {
  absl::Time time;
  std::string request_id;
  // Node id of the caller; its SPIFFE id when the caller is not a registered node.
  std::string caller;
  std::string dataset;
  // "Get", "Query", or "<Service>.<method>" for the other services ("Registry.ApproveGrant").
  std::string operation;
  std::string purpose;
  // Fields returned (allowed reads only).
  std::vector<std::string> fields;
  bool allowed = false;
  std::string grant_id;
  // Final status of the call and, when not OK, its message: the reason of a refusal.
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string reason;
  uint64_t registry_revision = 0;
  absl::Duration latency;
  uint64_t response_bytes = 0;
  uint32_t record_count = 0;
  // Identifiers of the data subjects whose records were returned, in the clear. A sink that
  // stores them keeps only keyed pseudonyms of them.
  std::vector<std::string> subjects;
  // For a registry write: what it changes.
  std::optional<v1::RegistryChange> change;
  // For a registry write of a grant: the grant's rate limit after it, when it has one.
  std::optional<v1::RateLimit> grant_rate_limit;
  // For an Audit call another gateway replica made on behalf of the auditor in `caller`: the
  // SPIFFE id that replica presented.
  std::string via;

  // Set on a refusal for overload (a grant's rate limit, the gateway's limits per node, a
  // bulkhead, an open circuit, deadline shedding): the reason the audit log records for it, a
  // text that stays the same from one refused call to the next (it names the limit, not the
  // retry delay of the call). Such refusals are counted into one entry per caller, dataset,
  // grant, operation, purpose, code, reason and second instead of one entry each, so that a
  // flood of them is not a flood of appends (RefusalTally).
  std::string overload_reason;
  // Of the entry that RefusalTally appends for such refusals: how many calls it stands for (0
  // for the record of one call), the end of the window they came in (the record's time is its
  // start), and how many subjects they named beyond those recorded in `subjects`.
  uint64_t refused_calls = 0;
  absl::Time refused_until;
  uint32_t subjects_not_recorded = 0;
};

// Where decisions are recorded. The gateway answers an allowed read only after `done` has been
// called with OK; a failed append fails the request (an unaudited read is a leak).
// Thread-safe: Append is called concurrently from request threads.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Records `record`; calls `done` exactly once, possibly on another thread, possibly before
  // Append returns.
  virtual void Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) = 0;
};

}  // namespace ndx::audit

#endif  // NDX_AUDIT_AUDIT_SINK_H_
