#ifndef NDX_AUDIT_CHECKPOINTER_H_
#define NDX_AUDIT_CHECKPOINTER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"
#include "audit/checkpoint.h"
#include "common/clock.h"
#include "crypto/signing.h"

namespace ndx::audit {

struct CheckpointerOptions {
  // The log's name in its checkpoints, e.g. "ndx.gov.vn/gateway/core".
  std::string origin;
  // The signing key's name in signature lines and verifier keys.
  std::string key_name;
  // Where the latest signed checkpoint is kept (written atomically, 0600, after each signature).
  // Auditors get checkpoints from the Audit API; the file is the gateway's own state.
  std::string state_file;
  // How often a new checkpoint is signed when the log has grown; zero disables the thread.
  absl::Duration interval = absl::Seconds(10);
  const Clock* clock = nullptr;  // nullptr: Clock::Real()
};

// A signed checkpoint: the note, and what it says.
struct SignedCheckpoint {
  std::string note;
  Checkpoint checkpoint;
};

// Signs checkpoints of an AuditLog, at an interval and on demand. It never signs a checkpoint
// inconsistent with one it signed before: the latest signed checkpoint is kept in a file, and
// before signing, the log's root at that checkpoint's size must still be the signed root (and the
// log no smaller). At start-up the same check runs, so a log rewritten while the gateway was down
// stops the gateway instead of being signed over.
// Thread-safe.
class Checkpointer {
 public:
  static absl::StatusOr<std::unique_ptr<Checkpointer>> Start(const AuditLog* log,
                                                             crypto::SigningKey key,
                                                             CheckpointerOptions options);
  ~Checkpointer();

  // Signs the log as it is now (a new time even if it has not grown) and returns it.
  absl::StatusOr<SignedCheckpoint> SignNow();
  // The latest signed checkpoint; kNotFound before the first one.
  absl::StatusOr<SignedCheckpoint> Latest() const;
  // The verifier key for this log ("<name>+<id>+<key>").
  std::string VerifierKeyText() const;
  // The log's name in its checkpoints.
  const std::string& origin() const { return options_.origin; }

 private:
  Checkpointer(const AuditLog* log, crypto::SigningKey key, CheckpointerOptions options);
  // REQUIRES: mutex_ held.
  absl::StatusOr<SignedCheckpoint> SignLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Loop();

  const AuditLog* const log_;
  const crypto::SigningKey key_;
  const CheckpointerOptions options_;
  const VerifierKey verifier_;

  mutable absl::Mutex mutex_;
  bool has_latest_ ABSL_GUARDED_BY(mutex_) = false;
  SignedCheckpoint latest_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace ndx::audit

#endif  // NDX_AUDIT_CHECKPOINTER_H_
