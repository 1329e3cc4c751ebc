#include "registry/rocksdb_registry.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "registry/snapshot_impl.h"
#include "registry/stored_records.h"
#include "storage/rocksdb_open.h"

namespace ndx::registry {
namespace {

using internal::SnapshotImpl;

using internal::DatasetKey;
using internal::EncodeRevision;
using internal::GrantKey;
using internal::kRevisionKey;
using internal::NodeKey;

// The Registry stored in RocksDB, with one writer: the process that holds the database, whose
// RegistryAdmin serializes its read-modify-writes, so a write's read revision is always the
// current one and is not checked. The current snapshot is the authoritative in-memory state:
// a writer derives the next one from it under `mutex_`, after the record is durable, and
// publishes it with an atomic store that readers load without a lock.
// Thread-safe.
class RocksDbRegistry final : public Registry {
 public:
  RocksDbRegistry(std::unique_ptr<rocksdb::DB> db, std::shared_ptr<const SnapshotImpl> first)
      : db_(std::move(db)), current_(first), published_(std::move(first)) {}

  ~RocksDbRegistry() override {
    // Close() reports a failure to sync the last writes; each write was already synced.
    db_->Close().PermitUncheckedError();
  }

  std::shared_ptr<const Snapshot> snapshot() const override {
    return published_.load(std::memory_order_acquire);
  }

  absl::StatusOr<uint64_t> PutNodeAsOf(const v1::Node& node, uint64_t) override {
    if (node.id().empty()) return absl::InvalidArgumentError("node id is empty");
    auto value = std::make_shared<const v1::Node>(node);
    absl::MutexLock lock(&mutex_);
    uint64_t revision = current_->revision() + 1;
    NDX_RETURN_IF_ERROR(Commit(NodeKey(node.id()), node.SerializeAsString(), revision));
    Publish(current_->WithNode(std::move(value), revision));
    return revision;
  }

  absl::StatusOr<uint64_t> PutDatasetAsOf(const v1::Dataset& dataset, uint64_t) override {
    if (dataset.id().empty()) return absl::InvalidArgumentError("dataset id is empty");
    // The schema is loaded before the lock: it is the slow part and needs no shared state.
    NDX_ASSIGN_OR_RETURN(std::shared_ptr<const DatasetEntry> entry,
                         internal::MakeDatasetEntry(dataset));
    absl::MutexLock lock(&mutex_);
    uint64_t revision = current_->revision() + 1;
    NDX_RETURN_IF_ERROR(Commit(DatasetKey(dataset.id()), dataset.SerializeAsString(), revision));
    Publish(current_->WithDataset(std::move(entry), revision));
    return revision;
  }

  absl::StatusOr<uint64_t> PutGrantAsOf(const v1::Grant& grant, uint64_t) override {
    if (grant.id().empty()) return absl::InvalidArgumentError("grant id is empty");
    auto stored = std::make_shared<v1::Grant>(grant);
    FillDefaultOperations(stored.get());
    std::shared_ptr<const v1::Grant> value = std::move(stored);
    absl::MutexLock lock(&mutex_);
    uint64_t revision = current_->revision() + 1;
    NDX_RETURN_IF_ERROR(Commit(GrantKey(grant.id()), value->SerializeAsString(), revision));
    Publish(current_->WithGrant(std::move(value), revision));
    return revision;
  }

 private:
  // Writes the record and the new revision together and durably.
  absl::Status Commit(const std::string& key, const std::string& value, uint64_t revision)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    rocksdb::WriteBatch batch;
    rocksdb::Status status = batch.Put(key, value);
    if (status.ok())
      status = batch.Put(rocksdb::Slice(kRevisionKey.data(), kRevisionKey.size()),
                         EncodeRevision(revision));
    if (status.ok()) {
      rocksdb::WriteOptions options;
      options.sync = true;
      status = db_->Write(options, &batch);
    }
    if (!status.ok()) {
      return absl::InternalError(
          absl::StrCat("cannot write registry record ", key, ": ", status.ToString()));
    }
    return absl::OkStatus();
  }

  void Publish(std::shared_ptr<const SnapshotImpl> next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    current_ = next;
    published_.store(std::move(next), std::memory_order_release);
  }

  const std::unique_ptr<rocksdb::DB> db_;
  absl::Mutex mutex_;
  // The same snapshot as `published_`, typed for deriving the next one.
  std::shared_ptr<const SnapshotImpl> current_ ABSL_GUARDED_BY(mutex_);
  std::atomic<std::shared_ptr<const Snapshot>> published_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Registry>> OpenRocksDbRegistry(const std::string& dir) {
  NDX_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db,
                       storage::Open(storage::DefaultOptions(), dir, "registry database"));
  NDX_ASSIGN_OR_RETURN(std::shared_ptr<const SnapshotImpl> first,
                       internal::LoadSnapshot(db.get(), dir));
  return std::unique_ptr<Registry>(new RocksDbRegistry(std::move(db), std::move(first)));
}

}  // namespace ndx::registry
