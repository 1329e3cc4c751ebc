#include "audit/refusal_tally.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"

namespace ndx::audit {
namespace {

// The reason of a caller's overflow entry, which stands for refusals of any dataset, grant,
// purpose and reason.
constexpr char kOverflowReason[] =
    "refused for overload while the gateway's tally of refusals was full; dataset, grant, "
    "purpose and reason are not itemised";

int64_t WindowIndex(absl::Time time, absl::Duration window) {
  absl::Duration remainder;
  int64_t index = absl::IDivDuration(time - absl::UnixEpoch(), window, &remainder);
  // Division truncates towards zero; windows start at multiples of `window` before 1970 too.
  return remainder < absl::ZeroDuration() ? index - 1 : index;
}

absl::Time WindowStart(int64_t index, absl::Duration window) {
  return absl::UnixEpoch() + window * index;
}

}  // namespace

RefusalTally::RefusalTally(std::unique_ptr<AuditSink> sink, RefusalTallyOptions options)
    : sink_(std::move(sink)),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : Clock::Real()) {
  if (options_.flush_interval > absl::ZeroDuration()) thread_ = std::thread([this] { Run(); });
}

RefusalTally::~RefusalTally() {
  if (thread_.joinable()) {
    {
      absl::MutexLock lock(&thread_mutex_);
      stopping_ = true;
    }
    thread_.join();
  }
  FlushAll();
}

void RefusalTally::Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) {
  if (record.overload_reason.empty()) {
    sink_->Append(std::move(record), std::move(done));
    return;
  }
  Tally(std::move(record));
  std::move(done)(absl::OkStatus());
}

void RefusalTally::Tally(AuditRecord refusal) {
  if (refusal.time == absl::UnixEpoch()) refusal.time = clock_.Now();
  Key key{.window = WindowIndex(refusal.time, options_.window),
          .caller = refusal.caller,
          .dataset = refusal.dataset,
          .grant_id = refusal.grant_id,
          .operation = refusal.operation,
          .purpose = refusal.purpose,
          .code = refusal.code,
          .reason = refusal.overload_reason};
  {
    Shard& shard = ShardOf(key);
    absl::MutexLock lock(&shard.mutex);
    auto it = shard.counts.find(key);
    if (it != shard.counts.end()) return Add(std::move(refusal), &it->second);
    if (open_entries_.load(std::memory_order_relaxed) < options_.max_open_entries) {
      return Open(std::move(key), std::move(refusal), &shard);
    }
  }
  // Full: count it with the caller's other refusals, and have the next flush empty the tally.
  // Overflow entries are bounded by the callers, which hold the platform's certificates.
  full_.store(true, std::memory_order_relaxed);
  key.dataset.clear();
  key.grant_id.clear();
  key.purpose.clear();
  key.reason = kOverflowReason;
  refusal.dataset.clear();
  refusal.grant_id.clear();
  refusal.purpose.clear();
  refusal.overload_reason = kOverflowReason;
  Shard& shard = ShardOf(key);
  absl::MutexLock lock(&shard.mutex);
  auto it = shard.counts.find(key);
  if (it != shard.counts.end()) return Add(std::move(refusal), &it->second);
  Open(std::move(key), std::move(refusal), &shard);
}

RefusalTally::Shard& RefusalTally::ShardOf(const Key& key) {
  return shards_[absl::Hash<Key>()(key) % kShards];
}

void RefusalTally::Open(Key key, AuditRecord refusal, Shard* shard) {
  Count count;
  count.entry = std::move(refusal);
  count.entry.reason = count.entry.overload_reason;
  if (count.entry.subjects.size() > options_.max_subjects) {
    // Distinct already: a call notes each subject once.
    count.entry.subjects_not_recorded =
        static_cast<uint32_t>(count.entry.subjects.size() - options_.max_subjects);
    count.entry.subjects.resize(options_.max_subjects);
  }
  count.calls = 1;
  shard->counts.emplace(std::move(key), std::move(count));
  open_entries_.fetch_add(1, std::memory_order_relaxed);
}

void RefusalTally::Add(AuditRecord refusal, Count* count) {
  ++count->calls;
  std::vector<std::string>& subjects = count->entry.subjects;
  for (std::string& subject : refusal.subjects) {
    if (std::find(subjects.begin(), subjects.end(), subject) != subjects.end()) continue;
    if (subjects.size() < options_.max_subjects) {
      subjects.push_back(std::move(subject));
    } else {
      ++count->entry.subjects_not_recorded;
    }
  }
}

void RefusalTally::FlushClosed() { Flush(false); }

void RefusalTally::FlushAll() { Flush(true); }

void RefusalTally::Flush(bool all) {
  absl::MutexLock flushing(&flush_mutex_);
  const absl::Time now = clock_.Now();
  if (full_.exchange(false, std::memory_order_relaxed)) all = true;
  std::vector<AuditRecord> entries;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mutex);
    for (auto it = shard.counts.begin(); it != shard.counts.end();) {
      absl::Time end = WindowStart(it->first.window + 1, options_.window);
      if (!all && end > now) {
        ++it;
        continue;
      }
      AuditRecord& entry = it->second.entry;
      entry.time = WindowStart(it->first.window, options_.window);
      // A window closed early ends now: no call it counts came later.
      entry.refused_until = std::max(entry.time, std::min(end, now));
      entry.refused_calls = it->second.calls;
      entry.latency = absl::ZeroDuration();
      entries.push_back(std::move(entry));
      shard.counts.erase(it++);
      open_entries_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  if (!entries.empty()) AppendAndWait(std::move(entries));
}

void RefusalTally::AppendAndWait(std::vector<AuditRecord> entries) {
  absl::BlockingCounter appended(static_cast<int>(entries.size()));
  for (AuditRecord& entry : entries) {
    // One line per entry, not per call: the calls themselves were logged at debug.
    spdlog::info("refused {} {} calls of {} on {} (grant {}) from {}: {}", entry.refused_calls,
                 entry.operation, entry.caller, entry.dataset.empty() ? "-" : entry.dataset,
                 entry.grant_id.empty() ? "-" : entry.grant_id,
                 absl::FormatTime(absl::RFC3339_full, entry.time, absl::UTCTimeZone()),
                 entry.reason);
    std::string what =
        absl::StrCat(entry.refused_calls, " refused ", entry.operation, " calls of ", entry.caller);
    sink_->Append(std::move(entry), [&appended, what = std::move(what)](absl::Status status) {
      if (!status.ok()) {
        spdlog::error("audit append failed for the entry of {}: {}", what, status.ToString());
      }
      appended.DecrementCount();
    });
  }
  appended.Wait();
}

void RefusalTally::Run() {
  absl::MutexLock lock(&thread_mutex_);
  while (!stopping_) {
    thread_mutex_.AwaitWithTimeout(absl::Condition(&stopping_), options_.flush_interval);
    if (stopping_) break;
    thread_mutex_.Unlock();
    FlushClosed();
    thread_mutex_.Lock();
  }
}

}  // namespace ndx::audit
