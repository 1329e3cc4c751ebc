#ifndef NDX_REGISTRY_CHANGE_RECORDER_H_
#define NDX_REGISTRY_CHANGE_RECORDER_H_

#include "absl/status/status.h"
#include "ndx/v1/registry.pb.h"

namespace ndx::registry {

// Where RegistryAdmin records a write before applying it: a registry change is never applied
// unless its record is durable. The gateway's implementation appends an audit entry for the call
// and waits for it. One recorder serves one call; not thread-safe.
class ChangeRecorder {
 public:
  virtual ~ChangeRecorder() = default;

  // Called once per write, after the write is validated and authorized and before it applies.
  // OK only once `change` is durably recorded; any error keeps the write from applying and is
  // what the caller is answered.
  virtual absl::Status Record(const v1::RegistryChange& change) = 0;

  // Called when a write that Record accepted then failed to apply, with the failure.
  virtual void RecordFailure(const v1::RegistryChange& change, const absl::Status& failure) = 0;

  // Record for a write of a grant, with the grant's rate limit after it (nullptr when it has
  // none), which the record carries beside `change`. The default records `change` alone.
  virtual absl::Status RecordGrantChange(const v1::RegistryChange& change,
                                         const v1::RateLimit* rate_limit) {
    (void)rate_limit;
    return Record(change);
  }
};

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_CHANGE_RECORDER_H_
