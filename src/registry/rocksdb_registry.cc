#include "registry/rocksdb_registry.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "registry/snapshot_impl.h"
#include "storage/rocksdb_open.h"

namespace ndx::registry {
namespace {

using internal::SnapshotImpl;

constexpr absl::string_view kNodePrefix = "node/";
constexpr absl::string_view kDatasetPrefix = "dataset/";
constexpr absl::string_view kGrantPrefix = "grant/";
constexpr absl::string_view kRevisionKey = "meta/revision";

// The revision is stored as 8 bytes, little-endian, so that its encoding does not depend on the
// host.
std::string EncodeRevision(uint64_t revision) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((revision >> (8 * i)) & 0xff);
  return bytes;
}

absl::StatusOr<uint64_t> DecodeRevision(absl::string_view bytes) {
  if (bytes.size() != 8) {
    return absl::DataLossError(absl::StrCat("registry key ", kRevisionKey, " holds ", bytes.size(),
                                            " bytes instead of 8"));
  }
  uint64_t revision = 0;
  for (int i = 0; i < 8; ++i) {
    revision |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  return revision;
}

absl::string_view View(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

// Parses the record stored under `key`, whose id must be the key's suffix.
template <typename Record>
absl::StatusOr<Record> ParseRecord(absl::string_view key, absl::string_view prefix,
                                   absl::string_view bytes) {
  Record record;
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("registry record ", key, " does not parse"));
  }
  if (record.id() != key.substr(prefix.size())) {
    return absl::DataLossError(
        absl::StrCat("registry record ", key, " holds the id \"", record.id(), "\""));
  }
  return record;
}

// The Registry stored in RocksDB. The current snapshot is the authoritative in-memory state:
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

  absl::StatusOr<uint64_t> PutNode(const v1::Node& node) override {
    if (node.id().empty()) return absl::InvalidArgumentError("node id is empty");
    auto value = std::make_shared<const v1::Node>(node);
    absl::MutexLock lock(&mutex_);
    uint64_t revision = current_->revision() + 1;
    NDX_RETURN_IF_ERROR(
        Commit(absl::StrCat(kNodePrefix, node.id()), node.SerializeAsString(), revision));
    Publish(current_->WithNode(std::move(value), revision));
    return revision;
  }

  absl::StatusOr<uint64_t> PutDataset(const v1::Dataset& dataset) override {
    if (dataset.id().empty()) return absl::InvalidArgumentError("dataset id is empty");
    // The schema is loaded before the lock: it is the slow part and needs no shared state.
    NDX_ASSIGN_OR_RETURN(std::shared_ptr<const DatasetEntry> entry,
                         internal::MakeDatasetEntry(dataset));
    absl::MutexLock lock(&mutex_);
    uint64_t revision = current_->revision() + 1;
    NDX_RETURN_IF_ERROR(
        Commit(absl::StrCat(kDatasetPrefix, dataset.id()), dataset.SerializeAsString(), revision));
    Publish(current_->WithDataset(std::move(entry), revision));
    return revision;
  }

  absl::StatusOr<uint64_t> PutGrant(const v1::Grant& grant) override {
    if (grant.id().empty()) return absl::InvalidArgumentError("grant id is empty");
    auto stored = std::make_shared<v1::Grant>(grant);
    FillDefaultOperations(stored.get());
    std::shared_ptr<const v1::Grant> value = std::move(stored);
    absl::MutexLock lock(&mutex_);
    uint64_t revision = current_->revision() + 1;
    NDX_RETURN_IF_ERROR(
        Commit(absl::StrCat(kGrantPrefix, grant.id()), value->SerializeAsString(), revision));
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

absl::StatusOr<std::shared_ptr<const SnapshotImpl>> LoadSnapshot(rocksdb::DB* db,
                                                                 const std::string& dir) {
  uint64_t revision = 0;
  std::vector<std::shared_ptr<const v1::Node>> nodes;
  std::vector<std::shared_ptr<const DatasetEntry>> datasets;
  std::vector<std::shared_ptr<const v1::Grant>> grants;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::string_view key = View(it->key());
    absl::string_view value = View(it->value());
    if (key == kRevisionKey) {
      NDX_ASSIGN_OR_RETURN(revision, DecodeRevision(value));
    } else if (absl::StartsWith(key, kNodePrefix)) {
      NDX_ASSIGN_OR_RETURN(v1::Node node, ParseRecord<v1::Node>(key, kNodePrefix, value));
      nodes.push_back(std::make_shared<const v1::Node>(std::move(node)));
    } else if (absl::StartsWith(key, kDatasetPrefix)) {
      NDX_ASSIGN_OR_RETURN(v1::Dataset dataset,
                           ParseRecord<v1::Dataset>(key, kDatasetPrefix, value));
      absl::StatusOr<std::shared_ptr<const DatasetEntry>> entry =
          internal::MakeDatasetEntry(dataset);
      if (!entry.ok()) {
        return absl::DataLossError(
            absl::StrCat("registry record ", key,
                         " holds a schema that does not load: ", entry.status().message()));
      }
      datasets.push_back(*std::move(entry));
    } else if (absl::StartsWith(key, kGrantPrefix)) {
      NDX_ASSIGN_OR_RETURN(v1::Grant grant, ParseRecord<v1::Grant>(key, kGrantPrefix, value));
      // A grant stored before grants had operations keeps the reads it always allowed.
      FillDefaultOperations(&grant);
      grants.push_back(std::make_shared<const v1::Grant>(std::move(grant)));
    }
    // Other keys belong to later versions of the registry; this one leaves them alone.
  }
  if (!it->status().ok()) {
    return absl::InternalError(
        absl::StrCat("cannot read the registry in ", dir, ": ", it->status().ToString()));
  }
  return SnapshotImpl::Build(revision, std::move(nodes), std::move(datasets), std::move(grants));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Registry>> OpenRocksDbRegistry(const std::string& dir) {
  NDX_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db,
                       storage::Open(storage::DefaultOptions(), dir, "registry database"));
  NDX_ASSIGN_OR_RETURN(std::shared_ptr<const SnapshotImpl> first, LoadSnapshot(db.get(), dir));
  return std::unique_ptr<Registry>(new RocksDbRegistry(std::move(db), std::move(first)));
}

}  // namespace ndx::registry
