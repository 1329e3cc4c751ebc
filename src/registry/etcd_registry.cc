#include "registry/etcd_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "registry/registry_copy.h"
#include "registry/snapshot_impl.h"
#include "registry/stored_records.h"

namespace ndx::registry {
namespace {

using Steady = std::chrono::steady_clock;

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch())
      .count();
}

// What a record is called in messages: "grant g-1".
std::string RecordName(absl::string_view storage_key) {
  size_t slash = storage_key.find('/');
  if (slash == absl::string_view::npos) return std::string(storage_key);
  return absl::StrCat(storage_key.substr(0, slash), " ", storage_key.substr(slash + 1));
}

class EtcdRegistry final : public Registry {
 public:
  EtcdRegistry(const EtcdRegistryOptions& options, std::unique_ptr<RegistryCopy> copy)
      : etcd_(options.etcd),
        key_prefix_(absl::StrCat(options.prefix, "registry/")),
        staleness_bound_(options.staleness_bound),
        copy_(std::move(copy)),
        applied_revision_(copy_->revision()) {}

  ~EtcdRegistry() override {
    stop_.Notify();
    {
      absl::MutexLock lock(&watch_mutex_);
      if (watch_ != nullptr) watch_->Cancel();
    }
    if (follower_.joinable()) follower_.join();
    if (prober_.joinable()) prober_.join();
  }

  // Starts following and waits for the first confirmation that the copy is current.
  absl::Status Start(absl::Duration timeout) {
    follower_ = std::thread([this] { Follow(); });
    prober_ = std::thread([this] { Probe(); });
    absl::Time deadline = absl::Now() + timeout;
    while (confirmed_nanos_.load(std::memory_order_acquire) == 0) {
      if (absl::Now() >= deadline) {
        return absl::UnavailableError(
            absl::StrCat("etcd at ", absl::StrJoin(etcd_->endpoints(), ","),
                         " did not bring the registry copy up to date within ",
                         absl::FormatDuration(timeout), ": ", LastError()));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::OkStatus();
  }

  std::shared_ptr<const Snapshot> snapshot() const override { return copy_->snapshot(); }

  absl::Status CheckFresh() const override {
    int64_t confirmed = confirmed_nanos_.load(std::memory_order_acquire);
    int64_t age = SteadyNanos() - confirmed;
    if (confirmed != 0 && age <= absl::ToInt64Nanoseconds(staleness_bound_)) {
      return absl::OkStatus();
    }
    return absl::UnavailableError(absl::StrFormat(
        "this gateway replica has not confirmed its registry current with etcd for %.1f s, more "
        "than its bound of %.1f s (cluster.registry_staleness_ms): it refuses to decide on a "
        "registry that may miss a revocation; retry on another replica",
        static_cast<double>(age) / 1e9, absl::ToDoubleSeconds(staleness_bound_)));
  }

  absl::StatusOr<uint64_t> PutNodeAsOf(const v1::Node& node, uint64_t read_revision) override {
    if (node.id().empty()) return absl::InvalidArgumentError("node id is empty");
    return Write(internal::NodeKey(node.id()), node.SerializeAsString(), read_revision);
  }

  absl::StatusOr<uint64_t> PutDatasetAsOf(const v1::Dataset& dataset,
                                          uint64_t read_revision) override {
    if (dataset.id().empty()) return absl::InvalidArgumentError("dataset id is empty");
    // Every replica must be able to load what is stored.
    NDX_RETURN_IF_ERROR(internal::MakeDatasetEntry(dataset).status());
    return Write(internal::DatasetKey(dataset.id()), dataset.SerializeAsString(), read_revision);
  }

  absl::StatusOr<uint64_t> PutGrantAsOf(const v1::Grant& grant, uint64_t read_revision) override {
    if (grant.id().empty()) return absl::InvalidArgumentError("grant id is empty");
    v1::Grant stored = grant;
    FillDefaultOperations(&stored);
    return Write(internal::GrantKey(grant.id()), stored.SerializeAsString(), read_revision);
  }

 private:
  // Stores `value` under `storage_key` unless etcd changed the record after `read_revision`, then
  // waits until this replica has applied it.
  absl::StatusOr<uint64_t> Write(const std::string& storage_key, std::string value,
                                 uint64_t read_revision) {
    NDX_RETURN_IF_ERROR(CheckFresh());
    std::string key = absl::StrCat(key_prefix_, storage_key);
    etcdserverpb::TxnRequest txn;
    etcdserverpb::Compare* unchanged = txn.add_compare();
    unchanged->set_key(key);
    unchanged->set_target(etcdserverpb::Compare::MOD);
    unchanged->set_result(etcdserverpb::Compare::LESS);
    unchanged->set_mod_revision(static_cast<int64_t>(read_revision) + 1);
    etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(std::move(value));
    absl::StatusOr<etcdserverpb::TxnResponse> response = etcd_->Txn(txn);
    if (!response.ok()) {
      // Whether a transaction that timed out applied is unknown: the copy will tell.
      return absl::UnavailableError(absl::StrCat("cannot store ", RecordName(storage_key),
                                                 " in etcd: ", response.status().message()));
    }
    if (!response->succeeded()) {
      return absl::AbortedError(absl::StrCat(
          RecordName(storage_key), " was changed by another gateway replica after revision ",
          read_revision, ", on which this change was decided; read it again and retry"));
    }
    uint64_t revision = static_cast<uint64_t>(response->header().revision());
    absl::MutexLock lock(&applied_mutex_);
    auto applied = [this, revision]() ABSL_SHARED_LOCKS_REQUIRED(applied_mutex_) {
      return applied_revision_ >= revision;
    };
    if (!applied_mutex_.AwaitWithTimeout(absl::Condition(&applied), staleness_bound_)) {
      return absl::UnavailableError(absl::StrCat(
          RecordName(storage_key), " was stored in etcd at revision ", revision,
          " but this replica has not applied it within ", absl::FormatDuration(staleness_bound_),
          "; every replica applies it once it reaches etcd again"));
    }
    return revision;
  }

  // The follower thread: (re)opens the watch from the copy's revision and applies what it says.
  void Follow() {
    absl::Duration backoff = absl::Milliseconds(100);
    while (!stop_.HasBeenNotified()) {
      absl::Status followed = FollowOnce();
      if (stop_.HasBeenNotified()) break;
      NoteError(followed);
      stop_.WaitForNotificationWithTimeout(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(1));
      if (followed.ok()) backoff = absl::Milliseconds(100);
    }
  }

  // One watch, until it breaks. OK when it ended because the copy had to be replaced.
  absl::Status FollowOnce() {
    if (copy_->revision() == 0) NDX_RETURN_IF_ERROR(Resynchronize());
    etcdserverpb::WatchCreateRequest create;
    create.set_key(key_prefix_);
    create.set_range_end(cluster::PrefixRangeEnd(key_prefix_));
    create.set_start_revision(static_cast<int64_t>(copy_->revision()) + 1);
    NDX_ASSIGN_OR_RETURN(std::unique_ptr<cluster::EtcdClient::WatchStream> watch,
                         etcd_->Watch(create));
    {
      absl::MutexLock lock(&watch_mutex_);
      if (stop_.HasBeenNotified()) return absl::OkStatus();
      watch_ = watch.get();
    }
    absl::Status ended = Apply(*watch);
    absl::MutexLock lock(&watch_mutex_);
    watch_ = nullptr;
    return ended;
  }

  absl::Status Apply(cluster::EtcdClient::WatchStream& watch) {
    while (true) {
      NDX_ASSIGN_OR_RETURN(etcdserverpb::WatchResponse response, watch.Next());
      if (response.compact_revision() > 0) {
        spdlog::warn(
            "registry: etcd compacted revision {} that this replica's copy (revision {}) still "
            "needed; reading the whole registry again",
            response.compact_revision(), copy_->revision());
        return Resynchronize();
      }
      if (response.canceled()) {
        return absl::UnavailableError(
            absl::StrCat("etcd cancelled the registry watch: ", response.cancel_reason()));
      }
      if (response.events_size() > 0) {
        std::vector<StoredChange> changes;
        changes.reserve(response.events_size());
        int64_t revision = 0;
        for (const mvccpb::Event& event : response.events()) {
          revision = std::max(revision, event.kv().mod_revision());
          std::string key = event.kv().key().substr(key_prefix_.size());
          if (event.type() == mvccpb::Event::DELETE) {
            changes.push_back({std::move(key), std::nullopt});
          } else {
            changes.push_back({std::move(key), event.kv().value()});
          }
        }
        NDX_RETURN_IF_ERROR(copy_->Apply(changes, static_cast<uint64_t>(revision)));
        MarkApplied(static_cast<uint64_t>(revision));
      } else if (!response.created()) {
        // A progress notification: everything up to its revision has been received, in order.
        int64_t asked = progress_asked_nanos_.exchange(0, std::memory_order_acq_rel);
        if (asked != 0) Confirm(asked);
      }
    }
  }

  // Reads the whole registry at one revision and replaces the copy by it.
  absl::Status Resynchronize() {
    etcdserverpb::RangeRequest range;
    range.set_key(key_prefix_);
    range.set_range_end(cluster::PrefixRangeEnd(key_prefix_));
    NDX_ASSIGN_OR_RETURN(etcdserverpb::RangeResponse response, etcd_->Range(range));
    std::vector<StoredChange> records;
    records.reserve(response.kvs_size());
    int64_t revision = 0;
    for (const mvccpb::KeyValue& kv : response.kvs()) {
      revision = std::max(revision, kv.mod_revision());
      records.push_back({kv.key().substr(key_prefix_.size()), kv.value()});
    }
    // An empty registry stays at revision 0 and is read whole again next time: cheap.
    NDX_RETURN_IF_ERROR(copy_->Replace(records, static_cast<uint64_t>(revision)));
    MarkApplied(static_cast<uint64_t>(revision));
    // The copy is as current as the read: changes after it arrive through the watch that follows.
    if (!records.empty()) {
      spdlog::info("registry: copied {} records from etcd at revision {}", records.size(),
                   response.header().revision());
    }
    return absl::OkStatus();
  }

  void MarkApplied(uint64_t revision) {
    absl::MutexLock lock(&applied_mutex_);
    applied_revision_ = std::max(applied_revision_, revision);
  }

  // Confirms the copy current as of `asked`, the time a progress notification was asked for.
  void Confirm(int64_t asked) {
    int64_t before = confirmed_nanos_.load(std::memory_order_acquire);
    while (asked > before &&
           !confirmed_nanos_.compare_exchange_weak(before, asked, std::memory_order_acq_rel)) {
    }
    if (lost_.exchange(false)) spdlog::info("registry: etcd confirms this replica's copy again");
  }

  // The prober thread: asks for a progress notification several times per staleness bound, and
  // says once when the copy goes stale.
  void Probe() {
    absl::Duration interval = std::min(staleness_bound_ / 5, absl::Milliseconds(500));
    while (!stop_.WaitForNotificationWithTimeout(interval)) {
      {
        absl::MutexLock lock(&watch_mutex_);
        if (watch_ != nullptr) {
          // The oldest unanswered request is kept: a notification confirms at least as much.
          int64_t none = 0;
          progress_asked_nanos_.compare_exchange_strong(none, SteadyNanos(),
                                                        std::memory_order_acq_rel);
          watch_->RequestProgress();
        }
      }
      if (!CheckFresh().ok() && confirmed_nanos_.load() != 0 && !lost_.exchange(true)) {
        spdlog::error("registry: {}; last error: {}", std::string(CheckFresh().message()),
                      LastError());
      }
    }
  }

  void NoteError(const absl::Status& status) {
    if (status.ok()) return;
    absl::MutexLock lock(&error_mutex_);
    last_error_ = status.ToString();
  }
  std::string LastError() const {
    absl::MutexLock lock(&error_mutex_);
    return last_error_.empty() ? "no answer" : last_error_;
  }

  cluster::EtcdClient* const etcd_;
  const std::string key_prefix_;
  const absl::Duration staleness_bound_;
  const std::unique_ptr<RegistryCopy> copy_;

  absl::Mutex applied_mutex_;
  uint64_t applied_revision_ ABSL_GUARDED_BY(applied_mutex_);

  // Steady-clock nanoseconds of the last confirmation, 0 before the first; of the oldest
  // unanswered progress request, 0 when none.
  std::atomic<int64_t> confirmed_nanos_{0};
  std::atomic<int64_t> progress_asked_nanos_{0};
  std::atomic<bool> lost_{false};

  absl::Mutex watch_mutex_;
  cluster::EtcdClient::WatchStream* watch_ ABSL_GUARDED_BY(watch_mutex_) = nullptr;

  mutable absl::Mutex error_mutex_;
  std::string last_error_ ABSL_GUARDED_BY(error_mutex_);

  absl::Notification stop_;
  std::thread follower_;
  std::thread prober_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Registry>> OpenEtcdRegistry(const EtcdRegistryOptions& options) {
  if (options.etcd == nullptr) return absl::InvalidArgumentError("no etcd client");
  NDX_ASSIGN_OR_RETURN(std::unique_ptr<RegistryCopy> copy, RegistryCopy::Open(options.dir));
  auto registry = std::make_unique<EtcdRegistry>(options, std::move(copy));
  NDX_RETURN_IF_ERROR(registry->Start(options.start_timeout));
  return std::unique_ptr<Registry>(std::move(registry));
}

}  // namespace ndx::registry
