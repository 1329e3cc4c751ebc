#ifndef NDX_AUDIT_REFUSAL_TALLY_H_
#define NDX_AUDIT_REFUSAL_TALLY_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/audit_sink.h"
#include "common/clock.h"

namespace ndx::audit {

struct RefusalTallyOptions {
  // The windows refusals are counted in: [k * window, (k + 1) * window) by the record's time.
  absl::Duration window = absl::Seconds(1);
  // Distinct subjects an entry records; the others are only counted (subjects_not_recorded).
  size_t max_subjects = 64;
  // Entries being counted at once. Past it, a refusal of a new (dataset, grant, purpose, reason)
  // is counted into its caller's overflow entry, which names none of them, and every window
  // closes at the next flush instead of at its end: memory stays bounded whatever callers send.
  size_t max_open_entries = 10000;
  // How often a thread of the tally appends the entries of the windows that have ended. Zero: no
  // thread; the owner calls FlushClosed (tests, with a fake clock).
  absl::Duration flush_interval = absl::Milliseconds(200);
  // What decides the windows that have ended; nullptr means Clock::Real(). Must outlive the tally.
  const Clock* clock = nullptr;
};

// An AuditSink in front of the gateway's sink that turns refusals for overload (records with an
// `overload_reason`) into one entry per caller, dataset, grant, operation, purpose, code, reason
// and window, carrying the number of calls it stands for (`refused_calls`), the window's end
// (`refused_until`; the entry's time is its start, its request id the first call's) and the data
// subjects those calls named (at most max_subjects, the rest counted). Every other record goes to
// the wrapped sink unchanged.
//
// Overload refusals come in floods: appended one by one, each would be a synced write of the
// audit log, and the protection would itself overload the gateway. Counted here, a refusal costs
// a hash-map update under one of 16 mutexes, and is answered at once, without waiting for its
// entry: a refusal gives nothing away, so "no audit, no answer" does not hold it back. The
// price: a crash loses the counts of the windows not yet appended (about one window and one
// flush interval); an append that fails is logged, not answered to anyone.
//
// Thread-safe. Appends to the wrapped sink are made by the tally's thread (or FlushClosed's
// caller), never by the refused call's thread.
class RefusalTally final : public AuditSink {
 public:
  RefusalTally(std::unique_ptr<AuditSink> sink, RefusalTallyOptions options);
  // Stops the thread, then appends every entry still counting, open windows included, and waits
  // for those appends.
  ~RefusalTally() override;

  RefusalTally(const RefusalTally&) = delete;
  RefusalTally& operator=(const RefusalTally&) = delete;

  // A record with an overload_reason is counted (Tally) and `done` runs at once with OK; any
  // other is appended to the wrapped sink.
  void Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override;

  // Counts one refusal for overload: the record its call would have had (caller, dataset, grant,
  // operation, purpose, code, subjects, time), with overload_reason set. Never blocks on I/O.
  void Tally(AuditRecord refusal);

  // Appends the entries of the windows that have ended (all of them once the tally is full) and
  // waits until the wrapped sink has taken them.
  void FlushClosed();
  // Appends every entry, open windows included, and waits.
  void FlushAll();

  // Entries being counted now.
  size_t open_entries() const { return open_entries_.load(std::memory_order_relaxed); }

 private:
  // What one entry counts: the refusals that agree on all of it.
  struct Key {
    int64_t window = 0;  // the window's index: unix nanoseconds / window
    std::string caller;
    std::string dataset;
    std::string grant_id;
    std::string operation;
    std::string purpose;
    absl::StatusCode code = absl::StatusCode::kOk;
    std::string reason;

    bool operator==(const Key& other) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& key) {
      return H::combine(std::move(h), key.window, key.caller, key.dataset, key.grant_id,
                        key.operation, key.purpose, key.code, key.reason);
    }
  };
  // The entry being counted: the first refusal's record, the subjects of all of them.
  struct Count {
    AuditRecord entry;
    uint64_t calls = 0;
  };
  struct Shard {
    absl::Mutex mutex;
    absl::flat_hash_map<Key, Count> counts ABSL_GUARDED_BY(mutex);
  };
  static constexpr size_t kShards = 16;

  Shard& ShardOf(const Key& key);
  // Starts counting under `key` with `refusal`, the first of its window.
  // REQUIRES: shard->mutex is held.
  void Open(Key key, AuditRecord refusal, Shard* shard);
  // Counts `refusal` into `count`, adding the subjects it names while there is room.
  // REQUIRES: the mutex of count's shard is held.
  void Add(AuditRecord refusal, Count* count);
  // Appends the entries of windows ending by now (all of them when `all`), and waits.
  void Flush(bool all);
  void AppendAndWait(std::vector<AuditRecord> entries);
  void Run();

  const std::unique_ptr<AuditSink> sink_;
  const RefusalTallyOptions options_;
  const Clock& clock_;
  std::array<Shard, kShards> shards_;
  std::atomic<size_t> open_entries_{0};
  // Set when the tally is full: the next flush closes every window.
  std::atomic<bool> full_{false};
  // Serializes flushes, so that FlushAll at the end cannot miss entries a thread's flush holds.
  absl::Mutex flush_mutex_;

  absl::Mutex thread_mutex_;
  bool stopping_ ABSL_GUARDED_BY(thread_mutex_) = false;
  std::thread thread_;
};

}  // namespace ndx::audit

#endif  // NDX_AUDIT_REFUSAL_TALLY_H_
