#include "audit/audit_log.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/hash.h"
#include "storage/rocksdb_open.h"

namespace ndx::audit {
namespace {

// Key layout of the log's database. Index keys are "<index>/<value>\0<sequence, big-endian>"
// with empty values; big-endian numbers make RocksDB's byte order the numeric order.
constexpr absl::string_view kEntryPrefix = "entry/";
constexpr absl::string_view kMerklePrefix = "merkle/";
constexpr absl::string_view kSizeKey = "meta/size";
constexpr absl::string_view kCallerIndex = "caller/";
constexpr absl::string_view kDatasetIndex = "dataset/";
constexpr absl::string_view kDecisionIndex = "decision/";
constexpr absl::string_view kSubjectIndex = "subject/";
constexpr absl::string_view kTimeIndex = "time/";

constexpr size_t kPseudonymKeyMinBytes = 32;
constexpr int kDefaultPageSize = 100;
// Holds the index blocks of the log's files and the data blocks that queries and proofs read:
// RocksDB's own default size.
constexpr size_t kBlockCacheBytes = 32 << 20;
constexpr int kMaxPageSize = 1000;
// The range of google.protobuf.Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

rocksdb::Slice ToSlice(absl::string_view s) { return {s.data(), s.size()}; }
absl::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

std::string BigEndian(uint64_t value) {
  std::string bytes(8, '\0');
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return bytes;
}

uint64_t FromBigEndian(absl::string_view bytes) {
  uint64_t value = 0;
  for (char c : bytes.substr(0, 8)) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

// Unix microseconds with the sign bit flipped, so that times before 1970 sort first.
std::string SortableMicros(absl::Time time) {
  return BigEndian(static_cast<uint64_t>(absl::ToUnixMicros(time)) ^ (uint64_t{1} << 63));
}

std::string EntryKey(uint64_t sequence) { return absl::StrCat(kEntryPrefix, BigEndian(sequence)); }

std::string IndexPrefix(absl::string_view index, absl::string_view value) {
  return absl::StrCat(index, value, absl::string_view("\0", 1));
}

absl::string_view DecisionName(v1::AuditEntry::Decision decision) {
  return decision == v1::AuditEntry::DECISION_ALLOW ? "allow" : "deny";
}

absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", status.ToString()));
}

std::string SerializeDeterministic(const v1::AuditEntry& entry) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    entry.SerializeToCodedStream(&coded);
  }
  return bytes;
}

}  // namespace

// The Merkle nodes of the log in its RocksDB database, under "merkle/<level byte><index be64>".
// Get reads the database; Put adds the nodes to the write batch being committed, so that
// they become durable atomically with the entries they cover.
// Thread-safe for Get; Put and set_batch are called by the committing thread only.
class RocksDbHashStore : public HashStore {
 public:
  explicit RocksDbHashStore(rocksdb::DB* db) : db_(db) {}

  static std::string Key(int level, uint64_t index) {
    return absl::StrCat(kMerklePrefix, std::string(1, static_cast<char>(level)), BigEndian(index));
  }

  absl::StatusOr<Hash> Get(int level, uint64_t index) const override {
    std::string value;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), Key(level, index), &value);
    if (status.IsNotFound()) {
      return absl::NotFoundError(absl::StrCat("no Merkle node at level ", level, " index ", index));
    }
    if (!status.ok()) return FromRocks(status, "cannot read a Merkle node of the audit log");
    Hash hash;
    if (value.size() != hash.size()) {
      return absl::DataLossError(absl::StrCat("the Merkle node at level ", level, " index ", index,
                                              " holds ", value.size(), " bytes instead of 32"));
    }
    std::memcpy(hash.data(), value.data(), hash.size());
    return hash;
  }

  absl::Status Put(absl::Span<const NodeWrite> nodes) override {
    if (batch_ == nullptr) {
      return absl::FailedPreconditionError("Merkle nodes are written only within an append batch");
    }
    for (const NodeWrite& node : nodes) {
      rocksdb::Status status =
          batch_->Put(Key(node.level, node.index), ToSlice(crypto::AsBytes(node.hash)));
      if (!status.ok()) return FromRocks(status, "cannot add a Merkle node to the write batch");
    }
    return absl::OkStatus();
  }

  // The batch that Put adds to; nullptr outside an append.
  void set_batch(rocksdb::WriteBatch* batch) { batch_ = batch; }

 private:
  rocksdb::DB* const db_;
  rocksdb::WriteBatch* batch_ = nullptr;
};

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const AuditLogOptions& options) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError("the audit log needs a directory (dir is empty)");
  }
  if (options.pseudonym_key.size() < kPseudonymKeyMinBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the audit log's pseudonym key has ", options.pseudonym_key.size(),
                     " bytes; it needs at least ", kPseudonymKeyMinBytes));
  }
  rocksdb::Options db_options = storage::DefaultOptions();
  // The log only grows. Left to the table readers, the index blocks of its files would stay in
  // memory for good, growing with it (about 12 MiB per 3.4M entries in a ten-minute run); in the
  // block cache they are bounded by its size.
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  table_options.cache_index_and_filter_blocks = true;
  table_options.cache_index_and_filter_blocks_with_high_priority = true;
  table_options.pin_l0_filter_and_index_blocks_in_cache = true;
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  NDX_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db,
                       storage::Open(db_options, options.dir, "audit log database"));

  uint64_t size = 0;
  std::string size_bytes;
  rocksdb::Status status = db->Get(rocksdb::ReadOptions(), ToSlice(kSizeKey), &size_bytes);
  if (status.ok()) {
    if (size_bytes.size() != 8) {
      return absl::DataLossError(absl::StrCat("audit log key ", kSizeKey, " holds ",
                                              size_bytes.size(), " bytes instead of 8"));
    }
    size = FromBigEndian(size_bytes);
  } else if (!status.IsNotFound()) {
    return FromRocks(status, "cannot read the audit log size");
  }

  // The size, the entries and the nodes are written in one batch, so the last entry must be
  // entry size - 1. This catches a lost tail or entries beyond the size in O(1) instead of
  // counting millions of keys; an entry removed from the middle is kDataLoss when read, and
  // VerifyEntry checks each entry against its leaf.
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->SeekForPrev(absl::StrCat(kEntryPrefix, std::string(8, '\xff')));
    if (!it->status().ok()) return FromRocks(it->status(), "cannot read the audit log entries");
    bool has_entry = it->Valid() && absl::StartsWith(View(it->key()), kEntryPrefix);
    if (size == 0 && has_entry) {
      return absl::DataLossError(
          absl::StrCat("audit log ", options.dir, " holds entries but no size (", kSizeKey, ")"));
    }
    if (size > 0) {
      uint64_t last = has_entry && it->key().size() == kEntryPrefix.size() + 8
                          ? FromBigEndian(View(it->key()).substr(kEntryPrefix.size()))
                          : std::numeric_limits<uint64_t>::max();
      if (last != size - 1) {
        return absl::DataLossError(absl::StrCat(
            "audit log ", options.dir, " has size ", size, " but its last entry is ",
            last == std::numeric_limits<uint64_t>::max() ? std::string("missing")
                                                         : absl::StrCat("entry ", last)));
      }
    }
  }

  auto store = std::make_unique<RocksDbHashStore>(db.get());
  absl::StatusOr<MerkleTree> tree = MerkleTree::Open(store.get(), size);
  if (!tree.ok()) {
    return absl::DataLossError(
        absl::StrCat("audit log ", options.dir, " of size ", size,
                     ": cannot open its Merkle tree: ", tree.status().message()));
  }
  std::unique_ptr<AuditLog> log(
      new AuditLog(options, std::move(db), std::move(store), *std::move(tree)));
  if (size > 0) NDX_RETURN_IF_ERROR(log->VerifyEntry(size - 1));
  return log;
}

AuditLog::AuditLog(const AuditLogOptions& options, std::unique_ptr<rocksdb::DB> db,
                   std::unique_ptr<RocksDbHashStore> store, MerkleTree tree)
    : durability_(options.durability),
      pseudonym_key_(options.pseudonym_key),
      clock_(options.clock != nullptr ? options.clock : &Clock::Real()),
      db_(std::move(db)),
      store_(std::move(store)),
      tree_(std::move(tree)) {}

AuditLog::~AuditLog() {
  {
    absl::MutexLock lock(&mutex_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return !committing_; };
    mutex_.Await(absl::Condition(&idle));
  }
  // Each batch was already written with the durability asked for; Close only reports a failure
  // to sync what kProcessCrash left unsynced.
  db_->Close().PermitUncheckedError();
}

std::string AuditLog::Pseudonym(absl::string_view subject) const {
  return crypto::ToHex(crypto::HmacSha256(pseudonym_key_, subject));
}

v1::AuditEntry AuditLog::ToEntry(const AuditRecord& record, absl::Time time) const {
  v1::AuditEntry entry;
  int64_t seconds = absl::ToUnixSeconds(time);
  entry.mutable_time()->set_seconds(seconds);
  entry.mutable_time()->set_nanos(
      static_cast<int32_t>((time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  entry.set_request_id(record.request_id);
  entry.set_caller(record.caller);
  entry.set_dataset(record.dataset);
  entry.set_operation(record.operation);
  entry.set_purpose(record.purpose);
  for (const std::string& field : record.fields) entry.add_fields(field);
  entry.set_decision(record.allowed ? v1::AuditEntry::DECISION_ALLOW
                                    : v1::AuditEntry::DECISION_DENY);
  entry.set_code(absl::StatusCodeToString(record.code));
  entry.set_reason(record.reason);
  entry.set_grant_id(record.grant_id);
  entry.set_registry_revision(record.registry_revision);
  entry.set_latency_us(
      static_cast<uint64_t>(std::max<int64_t>(0, absl::ToInt64Microseconds(record.latency))));
  entry.set_response_bytes(record.response_bytes);
  entry.set_record_count(record.record_count);
  entry.set_via(record.via);
  for (const std::string& subject : record.subjects)
    entry.add_subject_pseudonyms(Pseudonym(subject));
  if (record.change.has_value()) *entry.mutable_change() = *record.change;
  if (record.grant_rate_limit.has_value()) {
    *entry.mutable_grant_rate_limit() = *record.grant_rate_limit;
  }
  if (record.refused_calls > 0) {
    entry.set_refused_calls(record.refused_calls);
    *entry.mutable_refused_until() = ToProtoTime(record.refused_until);
    entry.set_subjects_not_recorded(record.subjects_not_recorded);
  }
  return entry;
}

void AuditLog::Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) {
  absl::Time time = record.time == absl::UnixEpoch() ? clock_->Now() : record.time;
  if (time == absl::InfinitePast() || time == absl::InfiniteFuture() ||
      absl::ToUnixSeconds(time) < kMinTimestampSeconds ||
      absl::ToUnixSeconds(time) > kMaxTimestampSeconds) {
    std::move(done)(absl::InvalidArgumentError(
        absl::StrCat("audit record ", record.request_id, " has the time ", absl::FormatTime(time),
                     ", outside the years 1 to 9999")));
    return;
  }
  Pending pending{ToEntry(record, time), std::move(done)};
  absl::Status refused;
  {
    absl::MutexLock lock(&mutex_);
    if (failed_.ok()) {
      queue_.push_back(std::move(pending));
      // A commit under way takes this record in its next batch.
      if (committing_) return;
      committing_ = true;
    } else {
      refused = failed_;
    }
  }
  if (!refused.ok()) {
    std::move(pending.done)(refused);
    return;
  }
  // No commit under way: this thread commits, which spares an uncontended append the hand-over
  // to another thread and back (two wake-ups, most of an append's latency). While it writes,
  // other appenders queue up and it commits them as the next batch: group commit.
  CommitQueued();
}

void AuditLog::CommitQueued() {
  for (;;) {
    std::vector<Pending> batch;
    absl::Status failed;
    {
      absl::MutexLock lock(&mutex_);
      if (queue_.empty()) {
        committing_ = false;
        return;
      }
      batch.reserve(queue_.size());
      for (Pending& pending : queue_) batch.push_back(std::move(pending));
      queue_.clear();
      failed = failed_;
    }
    if (failed.ok()) {
      absl::Status status = Commit(batch);
      if (!status.ok()) {
        failed = absl::UnavailableError(
            absl::StrCat("the audit log refuses appends after a failed write: ", status.message()));
        absl::MutexLock lock(&mutex_);
        failed_ = failed;
      }
    }
    // Answered outside every lock: a callback may append again (it then only queues) or do slow
    // work.
    for (Pending& pending : batch) std::move(pending.done)(failed);
  }
}

absl::Status AuditLog::Commit(std::vector<Pending>& batch) {
  // Only the committing thread changes tree_, so its copy is current. Appending to the
  // copy keeps readers on the committed tree until the batch is durable.
  MerkleTree tree = [this] {
    absl::ReaderMutexLock lock(&tree_mutex_);
    return tree_;
  }();
  const uint64_t first = tree.size();
  rocksdb::WriteBatch write_batch;
  std::vector<std::string> leaves;
  leaves.reserve(batch.size());
  rocksdb::Status status;
  auto put = [&](absl::string_view key, absl::string_view value) {
    if (status.ok()) status = write_batch.Put(ToSlice(key), ToSlice(value));
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    v1::AuditEntry& entry = batch[i].entry;
    const uint64_t sequence = first + i;
    const std::string seq = BigEndian(sequence);
    entry.set_sequence(sequence);
    leaves.push_back(SerializeDeterministic(entry));
    put(EntryKey(sequence), leaves.back());
    put(absl::StrCat(IndexPrefix(kCallerIndex, entry.caller()), seq), "");
    put(absl::StrCat(IndexPrefix(kDatasetIndex, entry.dataset()), seq), "");
    put(absl::StrCat(IndexPrefix(kDecisionIndex, DecisionName(entry.decision())), seq), "");
    put(absl::StrCat(IndexPrefix(kTimeIndex, SortableMicros(FromProtoTime(entry.time()))), seq),
        "");
    for (const std::string& pseudonym : entry.subject_pseudonyms()) {
      put(absl::StrCat(IndexPrefix(kSubjectIndex, pseudonym), seq), "");
    }
  }
  if (!status.ok()) return FromRocks(status, "cannot build the audit write batch");
  store_->set_batch(&write_batch);
  absl::Status appended = tree.Append(leaves);
  store_->set_batch(nullptr);
  NDX_RETURN_IF_ERROR(appended);
  put(kSizeKey, BigEndian(tree.size()));
  if (!status.ok()) return FromRocks(status, "cannot build the audit write batch");

  {
    absl::MutexLock lock(&mutex_);
    if (!injected_error_.ok()) return injected_error_;
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = durability_ == AuditLogOptions::Durability::kPowerLoss;
  status = db_->Write(write_options, &write_batch);
  if (!status.ok()) {
    return FromRocks(status, absl::StrCat("cannot write audit entries ", first, " to ",
                                          first + batch.size() - 1));
  }
  {
    absl::WriterMutexLock lock(&tree_mutex_);
    tree_ = std::move(tree);
  }
  appends_.fetch_add(batch.size(), std::memory_order_relaxed);
  batches_.fetch_add(1, std::memory_order_relaxed);
  if (write_options.sync) syncs_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

uint64_t AuditLog::size() const {
  absl::ReaderMutexLock lock(&tree_mutex_);
  return tree_.size();
}

absl::StatusOr<Hash> AuditLog::Root(uint64_t size) const {
  absl::ReaderMutexLock lock(&tree_mutex_);
  return tree_.Root(size);
}

absl::StatusOr<std::vector<Hash>> AuditLog::InclusionProof(uint64_t sequence, uint64_t size) const {
  absl::ReaderMutexLock lock(&tree_mutex_);
  return tree_.InclusionProof(sequence, size);
}

absl::StatusOr<std::vector<Hash>> AuditLog::ConsistencyProof(uint64_t old_size,
                                                             uint64_t new_size) const {
  absl::ReaderMutexLock lock(&tree_mutex_);
  return tree_.ConsistencyProof(old_size, new_size);
}

absl::StatusOr<LoggedEntry> AuditLog::ReadEntry(uint64_t sequence) const {
  LoggedEntry logged;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), EntryKey(sequence), &logged.bytes);
  if (status.IsNotFound()) {
    return absl::DataLossError(
        absl::StrCat("audit entry ", sequence, " is missing below the log size"));
  }
  if (!status.ok()) return FromRocks(status, absl::StrCat("cannot read audit entry ", sequence));
  if (!logged.entry.ParseFromString(logged.bytes)) {
    return absl::DataLossError(absl::StrCat("audit entry ", sequence, " does not parse"));
  }
  if (logged.entry.sequence() != sequence) {
    return absl::DataLossError(
        absl::StrCat("audit entry ", sequence, " holds the sequence ", logged.entry.sequence()));
  }
  return logged;
}

absl::StatusOr<LoggedEntry> AuditLog::Entry(uint64_t sequence) const {
  uint64_t committed = size();
  if (sequence >= committed) {
    return absl::NotFoundError(
        absl::StrCat("no audit entry ", sequence, ": the log has ", committed, " entries"));
  }
  return ReadEntry(sequence);
}

absl::Status AuditLog::VerifyEntry(uint64_t sequence) const {
  uint64_t committed = size();
  if (sequence >= committed) {
    return absl::NotFoundError(
        absl::StrCat("no audit entry ", sequence, ": the log has ", committed, " entries"));
  }
  std::string bytes;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), EntryKey(sequence), &bytes);
  if (status.IsNotFound()) {
    return absl::DataLossError(
        absl::StrCat("audit entry ", sequence, " is missing below the log size"));
  }
  if (!status.ok()) return FromRocks(status, absl::StrCat("cannot read audit entry ", sequence));
  absl::StatusOr<Hash> leaf = store_->Get(0, sequence);
  if (!leaf.ok()) {
    return absl::DataLossError(absl::StrCat("the Merkle leaf of audit entry ", sequence,
                                            " cannot be read: ", leaf.status().message()));
  }
  if (LeafHash(bytes) != *leaf) {
    return absl::DataLossError(
        absl::StrCat("audit entry ", sequence, " does not match its Merkle leaf: it was altered"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AuditQueryResult> AuditLog::Query(const AuditQuery& query,
                                                 absl::string_view page_token, int page_size,
                                                 uint64_t below_sequence) const {
  if (page_size == 0) page_size = kDefaultPageSize;
  if (page_size < 0 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page size ", page_size, " is not in 1..",
                                                   kMaxPageSize, " (0 means ", kDefaultPageSize,
                                                   ")"));
  }
  if (query.decision.has_value() && *query.decision != v1::AuditEntry::DECISION_ALLOW &&
      *query.decision != v1::AuditEntry::DECISION_DENY) {
    return absl::InvalidArgumentError(
        "the decision filter must be DECISION_ALLOW or DECISION_DENY");
  }
  if (query.from.has_value() && query.to.has_value() && *query.from >= *query.to) {
    return absl::InvalidArgumentError(
        absl::StrCat("the time range [", absl::FormatTime(*query.from), ", ",
                     absl::FormatTime(*query.to), ") is empty: from must be before to"));
  }
  std::optional<std::string> pseudonym;
  if (query.subject.has_value()) pseudonym = Pseudonym(*query.subject);

  // The driving scan: a key prefix under which every key ends with the sequence, walked from
  // `start` downwards.
  std::string prefix;
  bool by_time = false;
  bool by_entry = false;
  if (pseudonym.has_value()) {
    prefix = IndexPrefix(kSubjectIndex, *pseudonym);
  } else if (query.caller.has_value()) {
    prefix = IndexPrefix(kCallerIndex, *query.caller);
  } else if (query.dataset.has_value()) {
    prefix = IndexPrefix(kDatasetIndex, *query.dataset);
  } else if (query.from.has_value() || query.to.has_value()) {
    prefix = std::string(kTimeIndex);
    by_time = true;
  } else if (query.decision.has_value()) {
    prefix = IndexPrefix(kDecisionIndex, DecisionName(*query.decision));
  } else {
    prefix = std::string(kEntryPrefix);
    by_entry = true;
  }
  // Time keys are "time/<micros be64>\0<sequence be64>"; the others "<prefix><sequence be64>".
  const size_t key_size = prefix.size() + (by_time ? 17 : 8);

  std::string start;
  if (!page_token.empty()) {
    if (!absl::WebSafeBase64Unescape(page_token, &start) || start.size() != key_size ||
        !absl::StartsWith(start, prefix)) {
      return absl::InvalidArgumentError(
          "the page token is not one returned by a previous page of this query");
    }
  } else if (by_time && query.to.has_value()) {
    // Index keys hold whole microseconds: start at the microsecond of `to` and let the exact
    // check on the entry drop what is at or after `to`.
    start = absl::StrCat(prefix, SortableMicros(*query.to), std::string(9, '\xff'));
  } else {
    start = absl::StrCat(prefix, std::string(key_size - prefix.size(), '\xff'));
  }
  std::string stop_below;  // for time scans: keys below it are before `from`
  if (by_time && query.from.has_value()) {
    stop_below = absl::StrCat(prefix, SortableMicros(*query.from));
  }

  auto matches = [&](const v1::AuditEntry& entry) {
    if (query.caller.has_value() && entry.caller() != *query.caller) return false;
    if (query.dataset.has_value() && entry.dataset() != *query.dataset) return false;
    if (query.decision.has_value() && entry.decision() != *query.decision) return false;
    if (pseudonym.has_value() &&
        std::find(entry.subject_pseudonyms().begin(), entry.subject_pseudonyms().end(),
                  *pseudonym) == entry.subject_pseudonyms().end()) {
      return false;
    }
    absl::Time time = FromProtoTime(entry.time());
    if (query.from.has_value() && time < *query.from) return false;
    if (query.to.has_value() && time >= *query.to) return false;
    return true;
  };

  // Entries committed after this point are left for a later query, so that a page never holds
  // an entry that size() and the proofs do not yet cover.
  const uint64_t committed = std::min(size(), below_sequence);
  AuditQueryResult result;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekForPrev(start); it->Valid(); it->Prev()) {
    absl::string_view key = View(it->key());
    if (!absl::StartsWith(key, prefix)) break;
    if (!stop_below.empty() && key < stop_below) break;
    // A value holding "\0" could make another value's keys share this prefix; such keys have
    // another length or fail the exact check on the entry.
    if (key.size() != key_size) continue;
    const uint64_t sequence = FromBigEndian(key.substr(key.size() - 8));
    if (sequence >= committed) continue;
    LoggedEntry logged;
    if (by_entry) {
      logged.bytes = std::string(View(it->value()));
      if (!logged.entry.ParseFromString(logged.bytes) || logged.entry.sequence() != sequence) {
        return absl::DataLossError(
            absl::StrCat("audit entry ", sequence, " does not parse or names another sequence"));
      }
    } else {
      NDX_ASSIGN_OR_RETURN(logged, ReadEntry(sequence));
    }
    if (!matches(logged.entry)) continue;
    if (result.entries.size() == static_cast<size_t>(page_size)) {
      result.next_page_token = absl::WebSafeBase64Escape(key);
      break;
    }
    result.entries.push_back(std::move(logged));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "cannot scan the audit log");
  return result;
}

AuditLog::Stats AuditLog::stats() const {
  return Stats{appends_.load(std::memory_order_relaxed), batches_.load(std::memory_order_relaxed),
               syncs_.load(std::memory_order_relaxed)};
}

absl::Status AuditLog::OverwriteEntryBytesForTest(uint64_t sequence, absl::string_view bytes) {
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status status = db_->Put(options, EntryKey(sequence), ToSlice(bytes));
  if (!status.ok()) return FromRocks(status, "cannot overwrite an audit entry");
  return absl::OkStatus();
}

absl::Status AuditLog::DeleteEntryForTest(uint64_t sequence) {
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status status = db_->Delete(options, EntryKey(sequence));
  if (!status.ok()) return FromRocks(status, "cannot delete an audit entry");
  return absl::OkStatus();
}

absl::Status AuditLog::FlushForTest() {
  rocksdb::Status status = db_->Flush(rocksdb::FlushOptions());
  if (!status.ok()) return FromRocks(status, "cannot flush the audit log");
  return absl::OkStatus();
}

void AuditLog::FailWritesForTest(absl::Status error) {
  absl::MutexLock lock(&mutex_);
  injected_error_ = std::move(error);
}

}  // namespace ndx::audit
