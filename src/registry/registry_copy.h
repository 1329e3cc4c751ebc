#ifndef NDX_REGISTRY_REGISTRY_COPY_H_
#define NDX_REGISTRY_REGISTRY_COPY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "registry/snapshot.h"

namespace rocksdb {
class DB;
}

namespace ndx::registry {

namespace internal {
class SnapshotImpl;
}

// One change of a stored record (registry/stored_records.h): its key, and its value or nullopt
// when it was deleted.
struct StoredChange {
  std::string key;
  std::optional<std::string> value;
};

// A replica's local copy of a registry whose source of truth is elsewhere (etcd), in RocksDB:
// each batch of changes is written with the source's revision, atomically and durably, before
// the snapshot that holds it is published. Opening it loads the last applied state and revision,
// so that a restarted replica resumes following from there instead of copying everything again.
// Thread-safe: snapshot() is lock-free; changes are serialized.
class RegistryCopy {
 public:
  // Opens (creating if needed) the copy at `dir`, made private to the service user.
  static absl::StatusOr<std::unique_ptr<RegistryCopy>> Open(const std::string& dir);
  ~RegistryCopy();
  RegistryCopy(const RegistryCopy&) = delete;
  RegistryCopy& operator=(const RegistryCopy&) = delete;

  std::shared_ptr<const Snapshot> snapshot() const {
    return published_.load(std::memory_order_acquire);
  }
  // The source's revision of the last change applied; 0 for a new copy.
  uint64_t revision() const { return snapshot()->revision(); }

  // Applies `changes`, made by the source at `revision`. kDataLoss when a record does not parse
  // or a dataset's schema does not load, kInternal when the write fails: nothing applies then.
  absl::Status Apply(absl::Span<const StoredChange> changes, uint64_t revision);
  // Replaces the whole copy by `records` (none deleted), the source's state at `revision`: for a
  // copy that cannot follow the changes (the source no longer has them). Errors as Apply.
  absl::Status Replace(absl::Span<const StoredChange> records, uint64_t revision);

 private:
  RegistryCopy(std::unique_ptr<rocksdb::DB> db, std::string dir,
               std::shared_ptr<const internal::SnapshotImpl> first);
  absl::Status Write(absl::Span<const StoredChange> changes, bool replace, uint64_t revision)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Publish(std::shared_ptr<const internal::SnapshotImpl> next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const std::unique_ptr<rocksdb::DB> db_;
  const std::string dir_;
  absl::Mutex mutex_;
  std::shared_ptr<const internal::SnapshotImpl> current_ ABSL_GUARDED_BY(mutex_);
  std::atomic<std::shared_ptr<const Snapshot>> published_;
};

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_REGISTRY_COPY_H_
