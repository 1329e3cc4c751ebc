// ndx-audit-bench: the figures of docs/audit-benchmarks.md.
//
//   * Append throughput with durability on: a fresh AuditLog per run, in both durability modes,
//     with 1, 8 and 64 closed-loop appenders (each thread appends and waits for `done`). The
//     counters show group commit: appends per batch and, in kPowerLoss mode, per sync.
//   * Proofs, roots and queries on one big log (10 million entries by default), built once and
//     reused by later runs while its directory exists.
//
// Environment:
//   NDX_BENCH_DIR          where the append benchmarks make their temporary logs (default /tmp).
//   NDX_BENCH_BIG_LOG      the big log's directory (default $NDX_BENCH_DIR/ndx-audit-bench-big).
//   NDX_BENCH_BIG_ENTRIES  the big log's size (default 10000000). Entry i names subject
//                          i % (entries / 10), so the same value must be given while a log is
//                          built and while it is reused: every subject then has 10 entries.
//
// Google Benchmark's flags apply, e.g. --benchmark_filter=Append --benchmark_repetitions=5.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"
#include "audit/audit_sink.h"
#include "benchmark/benchmark.h"

namespace ndx::audit {
namespace {

using Durability = AuditLogOptions::Durability;

constexpr char kPseudonymKey[] = "ndx-audit-bench-pseudonym-key-0123456789abcdef";
constexpr int kCallers = 50;
constexpr int kDatasets = 20;
constexpr int kEntriesPerSubject = 10;

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::move(fallback);
}

std::string BenchDir() { return EnvOr("NDX_BENCH_DIR", "/tmp"); }

uint64_t BigEntries() {
  return std::strtoull(EnvOr("NDX_BENCH_BIG_ENTRIES", "10000000").c_str(), nullptr, 10);
}

uint64_t SubjectCount() {
  uint64_t subjects = BigEntries() / kEntriesPerSubject;
  return subjects == 0 ? 1 : subjects;
}

std::string Caller(uint64_t i) { return absl::StrCat("node-", i % kCallers); }
std::string Subject(uint64_t i) { return absl::StrFormat("citizen-%010d", i); }

// A realistic allowed read: caller, dataset, purpose, four fields, one data subject.
AuditRecord MakeRecord(uint64_t i, uint64_t subject) {
  AuditRecord record;
  record.request_id = absl::StrFormat("req-%016x", i);
  record.caller = Caller(i);
  record.dataset = absl::StrCat("province-", i % kDatasets, "/residents");
  record.operation = "Get";
  record.purpose = "social-benefit eligibility check, decree 2024/117";
  record.fields = {"full_name", "date_of_birth", "address", "household_size"};
  record.allowed = true;
  record.grant_id = absl::StrCat("grant-", i % 97);
  record.registry_revision = 4242;
  record.latency = absl::Microseconds(850);
  record.response_bytes = 512;
  record.record_count = 1;
  record.subjects = {Subject(subject)};
  return record;
}

absl::StatusOr<std::unique_ptr<AuditLog>> OpenLog(const std::string& dir, Durability durability) {
  AuditLogOptions options;
  options.dir = dir;
  options.durability = durability;
  options.pseudonym_key = kPseudonymKey;
  return AuditLog::Open(options);
}

[[noreturn]] void Die(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "ndx-audit-bench: %s: %s\n", std::string(what).c_str(),
               status.ToString().c_str());
  std::exit(1);
}

// ---- Append throughput ---------------------------------------------------------------------

// The log of the current append run; made by Setup before the threads start and removed by
// Teardown after they have all left the loop, so the threads only read the pointer.
std::unique_ptr<AuditLog> append_log;
std::string append_dir;

void SetupAppend(Durability durability) {
  std::string pattern = (std::filesystem::path(BenchDir()) / "ndx-audit-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    Die("mkdtemp", absl::InternalError(absl::StrCat("cannot create a directory like ", pattern)));
  }
  append_dir = pattern;
  absl::StatusOr<std::unique_ptr<AuditLog>> log = OpenLog(append_dir, durability);
  if (!log.ok()) Die("open the append log", log.status());
  append_log = *std::move(log);
}

void SetupPowerLoss(const benchmark::State&) { SetupAppend(Durability::kPowerLoss); }
void SetupProcessCrash(const benchmark::State&) { SetupAppend(Durability::kProcessCrash); }

void TeardownAppend(const benchmark::State&) {
  append_log.reset();
  std::filesystem::remove_all(append_dir);
}

void BM_Append(benchmark::State& state) {
  AuditLog& log = *append_log;
  uint64_t i = static_cast<uint64_t>(state.thread_index()) << 40;
  for (auto _ : state) {
    absl::Notification done;
    absl::Status result;
    log.Append(MakeRecord(i, i), [&](absl::Status status) {
      result = std::move(status);
      done.Notify();
    });
    done.WaitForNotification();
    if (!result.ok()) {
      state.SkipWithError(result.ToString().c_str());
      break;
    }
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  // Google Benchmark's threads meet at a barrier when they leave the loop, and every append has
  // been answered by then: thread 0 reads the final counts of this run.
  if (state.thread_index() == 0) {
    AuditLog::Stats stats = log.stats();
    state.counters["batches"] = static_cast<double>(stats.batches);
    state.counters["syncs"] = static_cast<double>(stats.syncs);
    state.counters["appends_per_batch"] =
        stats.batches == 0 ? 0.0 : static_cast<double>(stats.appends) / stats.batches;
    if (stats.syncs > 0) {
      state.counters["appends_per_sync"] = static_cast<double>(stats.appends) / stats.syncs;
    }
  }
}

BENCHMARK(BM_Append)
    ->Name("BM_AppendPowerLoss")
    ->Setup(SetupPowerLoss)
    ->Teardown(TeardownAppend)
    ->Threads(1)
    ->Threads(8)
    ->Threads(64)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Append)
    ->Name("BM_AppendProcessCrash")
    ->Setup(SetupProcessCrash)
    ->Teardown(TeardownAppend)
    ->Threads(1)
    ->Threads(8)
    ->Threads(64)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// ---- The big log -----------------------------------------------------------------------------

// Appends records until the log holds BigEntries(), keeping up to kWindow appends in flight so
// that the writer always finds a large batch: group commit makes this far faster than closed
// loop appenders, and it uses nothing but Append.
void FillBigLog(AuditLog& log) {
  constexpr uint64_t kWindow = 20000;
  const uint64_t target = BigEntries();
  const uint64_t subjects = SubjectCount();
  uint64_t start = log.size();
  if (start >= target) return;
  std::fprintf(stderr, "ndx-audit-bench: building the big log: %llu -> %llu entries\n",
               static_cast<unsigned long long>(start), static_cast<unsigned long long>(target));
  absl::Mutex mutex;
  uint64_t in_flight = 0;
  absl::Status failed;
  absl::Time began = absl::Now();
  for (uint64_t i = start; i < target; ++i) {
    {
      absl::MutexLock lock(&mutex);
      auto has_room = [&] { return in_flight < kWindow; };
      mutex.Await(absl::Condition(&has_room));
      if (!failed.ok()) Die("build the big log", failed);
      ++in_flight;
    }
    log.Append(MakeRecord(i, i % subjects), [&](absl::Status status) {
      absl::MutexLock lock(&mutex);
      --in_flight;
      if (!status.ok() && failed.ok()) failed = std::move(status);
    });
    if ((i + 1) % 1000000 == 0) {
      std::fprintf(stderr, "ndx-audit-bench:   %llu entries queued, %.0f s\n",
                   static_cast<unsigned long long>(i + 1),
                   absl::ToDoubleSeconds(absl::Now() - began));
    }
  }
  absl::MutexLock lock(&mutex);
  auto drained = [&] { return in_flight == 0; };
  mutex.Await(absl::Condition(&drained));
  if (!failed.ok()) Die("build the big log", failed);
  double seconds = absl::ToDoubleSeconds(absl::Now() - began);
  std::fprintf(stderr, "ndx-audit-bench: built %llu entries in %.0f s (%.0f appends/s)\n",
               static_cast<unsigned long long>(target - start), seconds,
               (target - start) / seconds);
}

// Opened (and filled) once per process, then shared by every big-log benchmark.
AuditLog& BigLog() {
  static AuditLog* log = [] {
    std::string dir = EnvOr("NDX_BENCH_BIG_LOG",
                            (std::filesystem::path(BenchDir()) / "ndx-audit-bench-big").string());
    // kProcessCrash: the build must be fast, and a crash while building only means a rebuild of
    // the tail on the next run (the log reopens at its last committed size).
    absl::StatusOr<std::unique_ptr<AuditLog>> opened = OpenLog(dir, Durability::kProcessCrash);
    if (!opened.ok()) Die(absl::StrCat("open the big log in ", dir), opened.status());
    FillBigLog(**opened);
    return opened->release();
  }();
  return *log;
}

void SetupBigLog(const benchmark::State&) { BigLog(); }

void BM_InclusionProof(benchmark::State& state) {
  AuditLog& log = BigLog();
  const uint64_t size = log.size();
  std::mt19937_64 random(1);
  uint64_t hashes = 0;
  for (auto _ : state) {
    absl::StatusOr<std::vector<Hash>> proof = log.InclusionProof(random() % size, size);
    if (!proof.ok()) {
      state.SkipWithError(proof.status().ToString().c_str());
      break;
    }
    hashes += proof->size();
  }
  state.counters["entries"] = static_cast<double>(size);
  state.counters["proof_hashes"] = static_cast<double>(hashes) / state.iterations();
}
BENCHMARK(BM_InclusionProof)->Setup(SetupBigLog)->Unit(benchmark::kMicrosecond);

void BM_ConsistencyProof(benchmark::State& state) {
  AuditLog& log = BigLog();
  const uint64_t size = log.size();
  std::mt19937_64 random(2);
  uint64_t hashes = 0;
  for (auto _ : state) {
    uint64_t old_size = 1 + random() % (size - 1);
    absl::StatusOr<std::vector<Hash>> proof = log.ConsistencyProof(old_size, size);
    if (!proof.ok()) {
      state.SkipWithError(proof.status().ToString().c_str());
      break;
    }
    hashes += proof->size();
  }
  state.counters["entries"] = static_cast<double>(size);
  state.counters["proof_hashes"] = static_cast<double>(hashes) / state.iterations();
}
BENCHMARK(BM_ConsistencyProof)->Setup(SetupBigLog)->Unit(benchmark::kMicrosecond);

// Root(size()): the current root, from the right border the tree keeps in memory.
void BM_RootCurrent(benchmark::State& state) {
  AuditLog& log = BigLog();
  const uint64_t size = log.size();
  for (auto _ : state) {
    absl::StatusOr<Hash> root = log.Root(size);
    if (!root.ok()) {
      state.SkipWithError(root.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(*root);
  }
}
BENCHMARK(BM_RootCurrent)->Setup(SetupBigLog)->Unit(benchmark::kMicrosecond);

// Root(random older size): composed from stored nodes, as a checkpoint of the past needs.
void BM_RootRandomOldSize(benchmark::State& state) {
  AuditLog& log = BigLog();
  const uint64_t size = log.size();
  std::mt19937_64 random(3);
  for (auto _ : state) {
    absl::StatusOr<Hash> root = log.Root(1 + random() % size);
    if (!root.ok()) {
      state.SkipWithError(root.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(*root);
  }
}
BENCHMARK(BM_RootRandomOldSize)->Setup(SetupBigLog)->Unit(benchmark::kMicrosecond);

// Times the first page of `make_query(random)` on the big log, and counts what it returns.
template <typename MakeQuery>
void RunFirstPageQueries(benchmark::State& state, uint64_t seed, MakeQuery make_query) {
  AuditLog& log = BigLog();
  std::mt19937_64 random(seed);
  uint64_t returned = 0;
  for (auto _ : state) {
    absl::StatusOr<AuditQueryResult> result = log.Query(make_query(random), "", 0);
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      break;
    }
    returned += result->entries.size();
  }
  state.counters["entries_per_query"] = static_cast<double>(returned) / state.iterations();
}

// A citizen's history: the first page for a random subject, who has kEntriesPerSubject entries.
void BM_QueryBySubject(benchmark::State& state) {
  const uint64_t subjects = SubjectCount();
  RunFirstPageQueries(state, 4, [subjects](std::mt19937_64& random) {
    AuditQuery query;
    query.subject = Subject(random() % subjects);
    return query;
  });
}
BENCHMARK(BM_QueryBySubject)->Setup(SetupBigLog)->Unit(benchmark::kMicrosecond);

// An agency's reads: the first page (100 newest entries) for a random caller.
void BM_QueryByCaller(benchmark::State& state) {
  RunFirstPageQueries(state, 5, [](std::mt19937_64& random) {
    AuditQuery query;
    query.caller = Caller(random() % kCallers);
    return query;
  });
}
BENCHMARK(BM_QueryByCaller)->Setup(SetupBigLog)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ndx::audit

BENCHMARK_MAIN();
