#include "cluster/membership.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cluster/etcd_client.h"
#include "common/status_macros.h"

namespace ndx::cluster {
namespace {

// How long a background thread waits before it tries etcd again after a failure, at most: short,
// so that a replica is back in the list soon after etcd is, and still far from a busy loop.
constexpr absl::Duration kMaxRetryDelay = absl::Seconds(1);

// Membership over etcd: this replica's key under a lease that one thread keeps alive, and the
// list of all replicas that another thread follows with a watch. Thread-safe.
class EtcdMembership final : public Membership {
 public:
  EtcdMembership(EtcdClient* etcd, const EtcdMembershipOptions& options)
      : etcd_(etcd),
        self_(options.self),
        members_prefix_(options.prefix + "members/"),
        self_key_(members_prefix_ + options.self.replica_id),
        ttl_seconds_(std::max<int64_t>(
            1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(options.ttl))))),
        keep_alive_interval_(options.ttl / 3),
        retry_delay_(std::min(options.ttl / 3, kMaxRetryDelay)) {}

  ~EtcdMembership() override {
    Stop();
    if (revoke_on_stop_ && lease_id_ != 0) {
      // Best effort: the others see this replica leave now rather than after its TTL.
      absl::Status revoked = etcd_->LeaseRevoke(lease_id_);
      if (!revoked.ok()) {
        spdlog::warn("cluster: could not revoke the lease of {}, which leaves when it expires: {}",
                     self_key_, std::string(revoked.message()));
      }
    }
  }

  // Registers this replica and reads the current members, then starts the threads that keep
  // both up to date.
  absl::Status Start() {
    NDX_RETURN_IF_ERROR(Register());
    NDX_ASSIGN_OR_RETURN(int64_t revision, Resync());
    keep_alive_thread_ = std::thread([this] { KeepAliveLoop(); });
    watch_thread_ = std::thread([this, revision] { WatchLoop(revision); });
    return absl::OkStatus();
  }

  const Member& self() const override { return self_; }

  std::vector<Member> Members() const override {
    std::vector<Member> members;
    absl::MutexLock lock(&mutex_);
    bool self_listed = false;
    for (const auto& [replica_id, address] : known_) {
      // This replica knows its own address best, even while its key is being put back.
      if (replica_id == self_.replica_id) {
        self_listed = true;
        members.push_back(self_);
      } else {
        members.push_back(Member{replica_id, address});
      }
    }
    if (!self_listed) {
      members.insert(std::lower_bound(members.begin(), members.end(), self_.replica_id,
                                      [](const Member& member, const std::string& id) {
                                        return member.replica_id < id;
                                      }),
                     self_);
    }
    return members;
  }

  void Crash() {
    revoke_on_stop_ = false;
    Stop();
  }

 private:
  void Stop() ABSL_LOCKS_EXCLUDED(mutex_) {
    {
      absl::MutexLock lock(&mutex_);
      stopping_ = true;
      if (watch_ != nullptr) watch_->Cancel();
      wake_.SignalAll();
    }
    if (keep_alive_thread_.joinable()) keep_alive_thread_.join();
    if (watch_thread_.joinable()) watch_thread_.join();
  }

  // Waits `delay`, or less when stopping (or, with `until_put_again`, when this replica's key
  // must be put back); returns false when stopping.
  bool Wait(absl::Duration delay, bool until_put_again = false) ABSL_LOCKS_EXCLUDED(mutex_) {
    absl::MutexLock lock(&mutex_);
    const absl::Time until = absl::Now() + delay;
    while (!stopping_ && !(until_put_again && put_again_) && absl::Now() < until) {
      wake_.WaitWithDeadline(&mutex_, until);
    }
    return !stopping_;
  }

  // A new lease, and this replica's key under it.
  absl::Status Register() {
    NDX_ASSIGN_OR_RETURN(etcdserverpb::LeaseGrantResponse lease, etcd_->LeaseGrant(ttl_seconds_));
    const int64_t previous = lease_id_;
    lease_id_ = lease.id();
    absl::Status put = PutSelf();
    if (!put.ok()) {
      lease_id_ = previous;
      etcd_->LeaseRevoke(lease.id()).IgnoreError();
      return put;
    }
    if (previous != 0) spdlog::info("cluster: {} registered again under a new lease", self_key_);
    return absl::OkStatus();
  }

  absl::Status PutSelf() {
    etcdserverpb::PutRequest put;
    put.set_key(self_key_);
    put.set_value(self_.address);
    put.set_lease(lease_id_);
    return etcd_->Put(put).status();
  }

  void KeepAliveLoop() {
    absl::Duration delay = keep_alive_interval_;
    while (Wait(delay, /*until_put_again=*/true)) {
      bool put_again;
      {
        absl::MutexLock lock(&mutex_);
        put_again = put_again_;
        put_again_ = false;
      }
      absl::Status status;
      if (put_again) {
        // The key went while the lease may live on (deleted by hand, or the lease expired and
        // the keep-alive has not noticed yet): put it back, under a new lease if need be.
        status = PutSelf();
        if (absl::IsNotFound(status)) status = Register();
      } else {
        absl::StatusOr<int64_t> ttl = etcd_->LeaseKeepAliveOnce(lease_id_);
        status = ttl.status();
        if (ttl.ok() && *ttl <= 0) {
          spdlog::warn("cluster: the lease of {} expired; registering again", self_key_);
          status = Register();
        }
      }
      NoteEtcd(status);
      delay = status.ok() ? keep_alive_interval_ : retry_delay_;
    }
  }

  // Reads every member; returns the revision to watch from.
  absl::StatusOr<int64_t> Resync() {
    etcdserverpb::RangeRequest range;
    range.set_key(members_prefix_);
    range.set_range_end(PrefixRangeEnd(members_prefix_));
    absl::StatusOr<etcdserverpb::RangeResponse> response = etcd_->Range(range);
    NoteEtcd(response.status());
    if (!response.ok()) return response.status();
    std::map<std::string, std::string> members;
    for (const mvccpb::KeyValue& kv : response->kvs()) {
      if (std::string id = ReplicaId(kv.key()); !id.empty()) members[id] = kv.value();
    }
    absl::MutexLock lock(&mutex_);
    for (const auto& [id, address] : known_) {
      if (!members.contains(id)) LogLeft(id);
    }
    for (const auto& [id, address] : members) {
      auto known = known_.find(id);
      if (known == known_.end() || known->second != address) LogJoined(id, address);
    }
    known_ = std::move(members);
    return response->header().revision();
  }

  void WatchLoop(int64_t revision) {
    bool synced = true;
    while (true) {
      if (!synced) {
        absl::StatusOr<int64_t> resynced = Resync();
        if (!resynced.ok()) {
          if (!Wait(retry_delay_)) return;
          continue;
        }
        revision = *resynced;
      }
      synced = false;
      etcdserverpb::WatchCreateRequest create;
      create.set_key(members_prefix_);
      create.set_range_end(PrefixRangeEnd(members_prefix_));
      create.set_start_revision(revision + 1);
      absl::StatusOr<std::unique_ptr<EtcdClient::WatchStream>> stream = etcd_->Watch(create);
      NoteEtcd(stream.status());
      if (!stream.ok()) {
        if (!Wait(retry_delay_)) return;
        continue;
      }
      {
        absl::MutexLock lock(&mutex_);
        if (stopping_) return;
        watch_ = stream->get();
      }
      const absl::Time followed_since = absl::Now();
      FollowWatch(**stream);
      {
        absl::MutexLock lock(&mutex_);
        watch_ = nullptr;
      }
      stream->reset();
      // A watch ends when its member goes, when etcd compacted past it, or at Stop(): read the
      // list again (from another member) rather than trust that no event was missed. At once
      // after a watch that served, after a pause if it ended as soon as it began (a member
      // without a leader ends it so), lest the loop spin.
      const bool served = absl::Now() - followed_since > absl::Seconds(1);
      if (!Wait(served ? absl::ZeroDuration() : retry_delay_)) return;
    }
  }

  void FollowWatch(EtcdClient::WatchStream& stream) {
    while (true) {
      absl::StatusOr<etcdserverpb::WatchResponse> response = stream.Next();
      if (!response.ok()) {
        spdlog::debug("cluster: the watch of {} ended: {}", members_prefix_,
                      std::string(response.status().message()));
        return;
      }
      if (response->canceled()) {
        spdlog::debug("cluster: etcd cancelled the watch of {}: {}", members_prefix_,
                      response->cancel_reason());
        return;
      }
      absl::MutexLock lock(&mutex_);
      for (const mvccpb::Event& event : response->events()) {
        const std::string id = ReplicaId(event.kv().key());
        if (id.empty()) continue;
        if (event.type() == mvccpb::Event::DELETE) {
          if (known_.erase(id) > 0) LogLeft(id);
          if (id == self_.replica_id && !stopping_) {
            put_again_ = true;
            wake_.SignalAll();
          }
        } else {
          auto [known, inserted] = known_.insert_or_assign(id, event.kv().value());
          if (inserted) LogJoined(id, known->second);
        }
      }
    }
  }

  // The replica id of a key under members_prefix_; empty for any other key.
  std::string ReplicaId(const std::string& key) const {
    if (!absl::StartsWith(key, members_prefix_)) return "";
    return key.substr(members_prefix_.size());
  }

  void LogJoined(const std::string& id, const std::string& address) const {
    if (id != self_.replica_id) spdlog::info("cluster: member {} joined ({})", id, address);
  }
  void LogLeft(const std::string& id) const {
    if (id != self_.replica_id) spdlog::info("cluster: member {} left", id);
  }

  // Logs when etcd becomes unreachable and when it is back, once each, not at every retry.
  void NoteEtcd(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mutex_) {
    absl::MutexLock lock(&mutex_);
    if (status.ok()) {
      if (etcd_lost_) spdlog::info("cluster: etcd is reachable again from {}", self_key_);
      etcd_lost_ = false;
    } else if (!etcd_lost_ && !stopping_) {
      etcd_lost_ = true;
      spdlog::warn("cluster: lost etcd, keeping the last known {} members until it is back: {}",
                   known_.size(), std::string(status.message()));
    }
  }

  EtcdClient* const etcd_;
  const Member self_;
  const std::string members_prefix_;
  const std::string self_key_;
  const int64_t ttl_seconds_;
  const absl::Duration keep_alive_interval_;
  const absl::Duration retry_delay_;
  // Written by Start() and then by the keep-alive thread only; read by the destructor after
  // that thread has ended.
  int64_t lease_id_ = 0;
  bool revoke_on_stop_ = true;

  mutable absl::Mutex mutex_;
  absl::CondVar wake_;
  // replica_id -> address, as etcd last said.
  std::map<std::string, std::string> known_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  bool etcd_lost_ ABSL_GUARDED_BY(mutex_) = false;
  // This replica's key was deleted: the keep-alive thread puts it back.
  bool put_again_ ABSL_GUARDED_BY(mutex_) = false;
  // The watch being followed, so that Stop() can end it.
  EtcdClient::WatchStream* watch_ ABSL_GUARDED_BY(mutex_) = nullptr;

  std::thread keep_alive_thread_;
  std::thread watch_thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Membership>> JoinCluster(EtcdClient* etcd,
                                                        const EtcdMembershipOptions& options) {
  if (options.self.replica_id.empty() || absl::StrContains(options.self.replica_id, '/')) {
    return absl::InvalidArgumentError(absl::StrCat("replica id \"", options.self.replica_id,
                                                   "\": give a non-empty id without '/'"));
  }
  if (options.ttl < absl::Seconds(1)) {
    return absl::InvalidArgumentError("a membership lease lives at least one second");
  }
  auto membership = std::make_unique<EtcdMembership>(etcd, options);
  absl::Status started = membership->Start();
  if (!started.ok()) {
    return absl::Status(started.code(),
                        absl::StrCat("cannot join the gateway cluster as ", options.self.replica_id,
                                     ": ", started.message()));
  }
  return membership;
}

void CrashForTest(Membership& membership) {
  auto* etcd_membership = dynamic_cast<EtcdMembership*>(&membership);
  if (etcd_membership == nullptr) {
    spdlog::critical("CrashForTest needs a membership made by JoinCluster");
    std::abort();
  }
  etcd_membership->Crash();
}

}  // namespace ndx::cluster
