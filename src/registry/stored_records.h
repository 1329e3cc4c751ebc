#ifndef NDX_REGISTRY_STORED_RECORDS_H_
#define NDX_REGISTRY_STORED_RECORDS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "registry/snapshot_impl.h"

namespace rocksdb {
class DB;
}

namespace ndx::registry::internal {

// How the registry's records are stored, in a replica's RocksDB database and, under a prefix, in
// etcd: one key per record, "node/<id>", "dataset/<id>" or "grant/<id>", holding the serialized
// message, and in RocksDB "meta/revision", the revision of the last change applied.
inline constexpr absl::string_view kNodePrefix = "node/";
inline constexpr absl::string_view kDatasetPrefix = "dataset/";
inline constexpr absl::string_view kGrantPrefix = "grant/";
inline constexpr absl::string_view kRevisionKey = "meta/revision";

std::string NodeKey(absl::string_view id);
std::string DatasetKey(absl::string_view id);
std::string GrantKey(absl::string_view id);

// The revision as stored: 8 bytes, little-endian, so that its encoding does not depend on the host.
std::string EncodeRevision(uint64_t revision);
absl::StatusOr<uint64_t> DecodeRevision(absl::string_view bytes);

// `snapshot` with the record stored under `key` applied at `revision`; `snapshot` itself for a
// key of no record (other keys belong to later versions, which this one leaves alone).
// kDataLoss when the record does not parse, holds another id than its key's, or is a dataset
// whose schema does not load.
absl::StatusOr<std::shared_ptr<const SnapshotImpl>> WithStoredRecord(
    std::shared_ptr<const SnapshotImpl> snapshot, absl::string_view key, absl::string_view value,
    uint64_t revision);

// Builds a whole snapshot from stored records, in any order.
class SnapshotBuilder {
 public:
  // kDataLoss as WithStoredRecord; a key of no record is skipped.
  absl::Status Add(absl::string_view key, absl::string_view value);
  std::shared_ptr<const SnapshotImpl> Build(uint64_t revision) &&;

 private:
  std::vector<std::shared_ptr<const v1::Node>> nodes_;
  std::vector<std::shared_ptr<const DatasetEntry>> datasets_;
  std::vector<std::shared_ptr<const v1::Grant>> grants_;
};

// The snapshot of the registry stored in `db` (`dir` names it in errors).
absl::StatusOr<std::shared_ptr<const SnapshotImpl>> LoadSnapshot(rocksdb::DB* db,
                                                                 const std::string& dir);

}  // namespace ndx::registry::internal

#endif  // NDX_REGISTRY_STORED_RECORDS_H_
