#include "registry/registry_copy.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "registry/snapshot_impl.h"
#include "registry/stored_records.h"
#include "storage/rocksdb_open.h"

namespace ndx::registry {

using internal::SnapshotImpl;

absl::StatusOr<std::unique_ptr<RegistryCopy>> RegistryCopy::Open(const std::string& dir) {
  NDX_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db,
                       storage::Open(storage::DefaultOptions(), dir, "registry copy"));
  NDX_ASSIGN_OR_RETURN(std::shared_ptr<const SnapshotImpl> first,
                       internal::LoadSnapshot(db.get(), dir));
  return std::unique_ptr<RegistryCopy>(new RegistryCopy(std::move(db), dir, std::move(first)));
}

RegistryCopy::RegistryCopy(std::unique_ptr<rocksdb::DB> db, std::string dir,
                           std::shared_ptr<const SnapshotImpl> first)
    : db_(std::move(db)), dir_(std::move(dir)), current_(first), published_(std::move(first)) {}

RegistryCopy::~RegistryCopy() {
  // Close() reports a failure to sync the last writes; each write was already synced.
  db_->Close().PermitUncheckedError();
}

absl::Status RegistryCopy::Apply(absl::Span<const StoredChange> changes, uint64_t revision) {
  absl::MutexLock lock(&mutex_);
  // Parsed before anything is written, so that a record that does not parse changes nothing.
  std::shared_ptr<const SnapshotImpl> next = current_;
  bool deleted = false;
  for (const StoredChange& change : changes) {
    if (!change.value.has_value()) {
      deleted = true;
      continue;
    }
    NDX_ASSIGN_OR_RETURN(next,
                         internal::WithStoredRecord(next, change.key, *change.value, revision));
  }
  NDX_RETURN_IF_ERROR(Write(changes, /*replace=*/false, revision));
  // The registry never deletes a record itself; a deletion made in the source by hand is rare
  // enough to rebuild the snapshot from the copy.
  if (deleted) {
    NDX_ASSIGN_OR_RETURN(next, internal::LoadSnapshot(db_.get(), dir_));
  }
  Publish(std::move(next));
  return absl::OkStatus();
}

absl::Status RegistryCopy::Replace(absl::Span<const StoredChange> records, uint64_t revision) {
  internal::SnapshotBuilder builder;
  for (const StoredChange& record : records) {
    if (record.value.has_value()) NDX_RETURN_IF_ERROR(builder.Add(record.key, *record.value));
  }
  std::shared_ptr<const SnapshotImpl> next = std::move(builder).Build(revision);
  absl::MutexLock lock(&mutex_);
  NDX_RETURN_IF_ERROR(Write(records, /*replace=*/true, revision));
  Publish(std::move(next));
  return absl::OkStatus();
}

absl::Status RegistryCopy::Write(absl::Span<const StoredChange> changes, bool replace,
                                 uint64_t revision) {
  rocksdb::WriteBatch batch;
  rocksdb::Status status;
  if (replace) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); status.ok() && it->Valid(); it->Next())
      status = batch.Delete(it->key());
    if (status.ok()) status = it->status();
  }
  for (const StoredChange& change : changes) {
    if (!status.ok()) break;
    status =
        change.value.has_value() ? batch.Put(change.key, *change.value) : batch.Delete(change.key);
  }
  if (status.ok()) {
    status = batch.Put(rocksdb::Slice(internal::kRevisionKey.data(), internal::kRevisionKey.size()),
                       internal::EncodeRevision(revision));
  }
  if (status.ok()) {
    rocksdb::WriteOptions options;
    options.sync = true;
    status = db_->Write(options, &batch);
  }
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot write the registry copy in ", dir_,
                                            " at revision ", revision, ": ", status.ToString()));
  }
  return absl::OkStatus();
}

void RegistryCopy::Publish(std::shared_ptr<const SnapshotImpl> next) {
  current_ = next;
  published_.store(std::move(next), std::memory_order_release);
}

}  // namespace ndx::registry
