#include "registry/stored_records.h"

#include <rocksdb/db.h>

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ndx::registry::internal {
namespace {

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

absl::StatusOr<std::shared_ptr<const DatasetEntry>> ParseDataset(absl::string_view key,
                                                                 absl::string_view value) {
  NDX_ASSIGN_OR_RETURN(v1::Dataset dataset, ParseRecord<v1::Dataset>(key, kDatasetPrefix, value));
  absl::StatusOr<std::shared_ptr<const DatasetEntry>> entry = MakeDatasetEntry(dataset);
  if (!entry.ok()) {
    return absl::DataLossError(absl::StrCat(
        "registry record ", key, " holds a schema that does not load: ", entry.status().message()));
  }
  return *std::move(entry);
}

absl::StatusOr<std::shared_ptr<const v1::Grant>> ParseGrant(absl::string_view key,
                                                            absl::string_view value) {
  NDX_ASSIGN_OR_RETURN(v1::Grant grant, ParseRecord<v1::Grant>(key, kGrantPrefix, value));
  // A grant stored before grants had operations keeps the reads it always allowed.
  FillDefaultOperations(&grant);
  return std::make_shared<const v1::Grant>(std::move(grant));
}

}  // namespace

std::string NodeKey(absl::string_view id) { return absl::StrCat(kNodePrefix, id); }
std::string DatasetKey(absl::string_view id) { return absl::StrCat(kDatasetPrefix, id); }
std::string GrantKey(absl::string_view id) { return absl::StrCat(kGrantPrefix, id); }

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

absl::StatusOr<std::shared_ptr<const SnapshotImpl>> WithStoredRecord(
    std::shared_ptr<const SnapshotImpl> snapshot, absl::string_view key, absl::string_view value,
    uint64_t revision) {
  if (absl::StartsWith(key, kNodePrefix)) {
    NDX_ASSIGN_OR_RETURN(v1::Node node, ParseRecord<v1::Node>(key, kNodePrefix, value));
    return snapshot->WithNode(std::make_shared<const v1::Node>(std::move(node)), revision);
  }
  if (absl::StartsWith(key, kDatasetPrefix)) {
    NDX_ASSIGN_OR_RETURN(std::shared_ptr<const DatasetEntry> entry, ParseDataset(key, value));
    return snapshot->WithDataset(std::move(entry), revision);
  }
  if (absl::StartsWith(key, kGrantPrefix)) {
    NDX_ASSIGN_OR_RETURN(std::shared_ptr<const v1::Grant> grant, ParseGrant(key, value));
    return snapshot->WithGrant(std::move(grant), revision);
  }
  return snapshot;
}

absl::Status SnapshotBuilder::Add(absl::string_view key, absl::string_view value) {
  if (absl::StartsWith(key, kNodePrefix)) {
    NDX_ASSIGN_OR_RETURN(v1::Node node, ParseRecord<v1::Node>(key, kNodePrefix, value));
    nodes_.push_back(std::make_shared<const v1::Node>(std::move(node)));
  } else if (absl::StartsWith(key, kDatasetPrefix)) {
    NDX_ASSIGN_OR_RETURN(std::shared_ptr<const DatasetEntry> entry, ParseDataset(key, value));
    datasets_.push_back(std::move(entry));
  } else if (absl::StartsWith(key, kGrantPrefix)) {
    NDX_ASSIGN_OR_RETURN(std::shared_ptr<const v1::Grant> grant, ParseGrant(key, value));
    grants_.push_back(std::move(grant));
  }
  return absl::OkStatus();
}

std::shared_ptr<const SnapshotImpl> SnapshotBuilder::Build(uint64_t revision) && {
  return SnapshotImpl::Build(revision, std::move(nodes_), std::move(datasets_), std::move(grants_));
}

absl::StatusOr<std::shared_ptr<const SnapshotImpl>> LoadSnapshot(rocksdb::DB* db,
                                                                 const std::string& dir) {
  uint64_t revision = 0;
  SnapshotBuilder builder;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::string_view key = View(it->key());
    if (key == kRevisionKey) {
      NDX_ASSIGN_OR_RETURN(revision, DecodeRevision(View(it->value())));
    } else {
      NDX_RETURN_IF_ERROR(builder.Add(key, View(it->value())));
    }
  }
  if (!it->status().ok()) {
    return absl::InternalError(
        absl::StrCat("cannot read the registry in ", dir, ": ", it->status().ToString()));
  }
  return std::move(builder).Build(revision);
}

}  // namespace ndx::registry::internal
