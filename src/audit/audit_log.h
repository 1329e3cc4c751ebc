#ifndef NDX_AUDIT_AUDIT_LOG_H_
#define NDX_AUDIT_AUDIT_LOG_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/audit_sink.h"
#include "audit/merkle.h"
#include "audit/proof_verifier.h"
#include "common/clock.h"
#include "ndx/v1/audit.pb.h"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace ndx::audit {

class RocksDbHashStore;

struct AuditLogOptions {
  // When an append is reported durable.
  enum class Durability {
    // The entry has reached the operating system (RocksDB's WAL write, not synced): it survives
    // a crash of the process, kill -9 included, but not of the machine.
    kProcessCrash,
    // The entry has been synced to disk: it survives a power loss.
    kPowerLoss,
  };

  // The directory of the log's own RocksDB database; created (with its parents) 0700 if missing,
  // tightened if open to group or others.
  std::string dir;
  Durability durability = Durability::kPowerLoss;
  // The HMAC-SHA-256 key of the subject pseudonyms: at least 32 bytes. The same key must be used
  // for the whole life of the log, or subject queries stop finding older entries.
  std::string pseudonym_key;
  // Stamps records whose time was left at its default (absl::UnixEpoch()); nullptr means
  // Clock::Real(). Not owned; must outlive the log.
  const Clock* clock = nullptr;
};

// One stored entry: the bytes that are its Merkle leaf, and their parse.
struct LoggedEntry {
  std::string bytes;
  v1::AuditEntry entry;
};

// What an auditor asks for. Every given filter must match (AND); none given lists the whole log.
struct AuditQuery {
  std::optional<std::string> caller;
  std::optional<std::string> dataset;
  // DECISION_ALLOW or DECISION_DENY.
  std::optional<v1::AuditEntry::Decision> decision;
  // A data subject's identifier in the clear; the log looks up its pseudonym.
  std::optional<std::string> subject;
  // Entries whose time is in [from, to); either bound may be absent.
  std::optional<absl::Time> from;
  std::optional<absl::Time> to;
};

struct AuditQueryResult {
  std::vector<LoggedEntry> entries;
  // Empty on the last page; otherwise passed back to Query for the next one.
  std::string next_page_token;
};

// The tamper-evident audit log: an AuditSink that stores each record as an ndx.v1.AuditEntry
// (subjects replaced by keyed pseudonyms) in its own RocksDB database, with the RFC 9162 Merkle
// tree over the entries' deterministic serializations and secondary indexes for auditors.
//
// Appends are group-committed: the appender that finds no commit under way commits, on its own
// thread, every queued record (its own and those queued while it writes): the records, their
// index keys, the new Merkle nodes and the new tree size in a single RocksDB write batch (synced
// in kPowerLoss mode), and only then calls their `done`; appenders that find a commit under way
// only queue. A failed write fails every record of its batch and every later append
// (kUnavailable): the log never continues past a hole.
//
// Thread-safe. Append may be called from any number of threads; readers run concurrently with
// the committing thread and see the log at its last committed size. The Merkle tree is
// thread-compatible: the committing thread appends to a copy of it outside any lock and swaps
// the copy in under `tree_mutex_` after the batch is durable, and readers hold `tree_mutex_` shared
// while they compute a root or a proof, so they never see a node that is not yet stored.
class AuditLog : public AuditSink {
 public:
  struct Stats {
    uint64_t appends = 0;  // records committed
    uint64_t batches = 0;  // write batches committed
    uint64_t syncs = 0;    // of which synced to disk
  };

  // Opens (or creates) the log in options.dir. kInvalidArgument for an empty dir or a pseudonym
  // key shorter than 32 bytes; kUnavailable when another process holds the database; kDataLoss
  // when the stored size, entries and Merkle nodes disagree.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const AuditLogOptions& options);

  // Waits for the batch being committed, if any. No Append may start once it runs.
  ~AuditLog() override;

  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Calls `done` with OK once the entry is durable; with kInvalidArgument (at once) for a record
  // whose time cannot be stored; with kUnavailable when the write failed or an earlier one did.
  void Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override;

  // The number of committed entries.
  uint64_t size() const;
  // The Merkle root of the first `size` entries; kOutOfRange beyond size().
  absl::StatusOr<Hash> Root(uint64_t size) const;
  // The entry at `sequence`: kNotFound beyond size(), kDataLoss if it is missing or altered so
  // that it no longer parses or names another sequence.
  absl::StatusOr<LoggedEntry> Entry(uint64_t sequence) const;
  // RFC 9162 proofs, as MerkleTree makes them (kOutOfRange for a size beyond size()).
  absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t sequence, uint64_t size) const;
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size) const;

  // OK if the stored bytes of entry `sequence` hash to the Merkle leaf stored for it; kDataLoss
  // (naming the sequence) if they do not. Detects an entry rewritten in the database; a rewrite
  // of the tree as well is detected only against a signed checkpoint.
  absl::Status VerifyEntry(uint64_t sequence) const;

  // Entries matching `query`, newest first (descending sequence; for a query with a time range
  // and no subject, caller or dataset, descending time, then sequence, which is the same order
  // whenever entries are appended in time order). One index drives the scan: subject, else
  // caller, else dataset, else time, else decision; the other filters are checked on each entry.
  // `page_token` is empty for the first page or the next_page_token of the previous one (of
  // the same query); page_size is 1..1000, 0 meaning 100. Only entries below size() at the call,
  // and below `below_sequence`, are returned: the pages of a query that pass the same bound read
  // the same entries however the log grows. kInvalidArgument for a bad page size, an unreadable
  // token, DECISION_UNSPECIFIED, or from >= to.
  absl::StatusOr<AuditQueryResult> Query(const AuditQuery& query, absl::string_view page_token,
                                         int page_size, uint64_t below_sequence = UINT64_MAX) const;

  Stats stats() const;

  // The pseudonym stored for `subject`: lower-case hex of HMAC-SHA-256(pseudonym_key, subject).
  std::string Pseudonym(absl::string_view subject) const;

  // Test hooks. OverwriteEntryBytesForTest replaces the stored bytes of an entry (tamper test);
  // DeleteEntryForTest removes them (removal test);
  // FlushForTest writes the memtable to an SST file; FailWritesForTest makes every later batch
  // write fail with `error` instead of reaching RocksDB.
  absl::Status OverwriteEntryBytesForTest(uint64_t sequence, absl::string_view bytes);
  // Deletes the stored bytes of an entry (removal test).
  absl::Status DeleteEntryForTest(uint64_t sequence);
  absl::Status FlushForTest();
  void FailWritesForTest(absl::Status error);

 private:
  struct Pending {
    v1::AuditEntry entry;
    absl::AnyInvocable<void(absl::Status) &&> done;
  };

  AuditLog(const AuditLogOptions& options, std::unique_ptr<rocksdb::DB> db,
           std::unique_ptr<RocksDbHashStore> store, MerkleTree tree);

  v1::AuditEntry ToEntry(const AuditRecord& record, absl::Time time) const;
  // Commits what is queued, batch after batch, until the queue is empty; run by the appender
  // that found no commit under way (the leader).
  void CommitQueued();
  // Writes `batch` as one RocksDB write batch and publishes the new tree; the status of the write.
  absl::Status Commit(std::vector<Pending>& batch);
  absl::StatusOr<LoggedEntry> ReadEntry(uint64_t sequence) const;

  const AuditLogOptions::Durability durability_;
  const std::string pseudonym_key_;
  const Clock* const clock_;
  const std::unique_ptr<rocksdb::DB> db_;
  const std::unique_ptr<RocksDbHashStore> store_;

  mutable absl::Mutex mutex_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mutex_);
  // Whether an appender is committing: the others only queue their record for it.
  bool committing_ ABSL_GUARDED_BY(mutex_) = false;
  // Set once a write fails; every later append is refused with it.
  absl::Status failed_ ABSL_GUARDED_BY(mutex_);
  absl::Status injected_error_ ABSL_GUARDED_BY(mutex_);

  mutable absl::Mutex tree_mutex_;
  MerkleTree tree_ ABSL_GUARDED_BY(tree_mutex_);

  std::atomic<uint64_t> appends_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> syncs_{0};
};

}  // namespace ndx::audit

#endif  // NDX_AUDIT_AUDIT_LOG_H_
