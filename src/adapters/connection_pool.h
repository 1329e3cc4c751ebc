#ifndef NDX_ADAPTERS_CONNECTION_POOL_H_
#define NDX_ADAPTERS_CONNECTION_POOL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ndx::adapters {

// The connections of a backend to its database: opened on demand up to `max_connections`, each
// used by one call at a time and then reused with what it keeps (prepared statements). Not one
// per thread: calls run on gRPC's threads and on the adapter service's own, whose number follows
// the load, so thread-local connections would too, rather than a bound the agency can plan for.
// A call waits for a free connection until `wait` has passed or its deadline, whichever comes
// first.
// Thread-safe; the pool must outlive its leases.
template <typename Connection>
class ConnectionPool {
 public:
  using Opener = absl::AnyInvocable<absl::StatusOr<std::unique_ptr<Connection>>() const>;

  // `name` says which database in error messages. REQUIRES: max_connections >= 1.
  ConnectionPool(std::string name, int max_connections, absl::Duration wait, Opener open)
      : name_(std::move(name)),
        max_connections_(max_connections),
        wait_(wait),
        open_connection_(std::move(open)) {}

  // A connection taken for the length of one call; given back when destroyed, unless discarded.
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    Lease(Lease&& other) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (connection_ != nullptr) pool_->Release(std::move(connection_));
    }

    Connection* operator->() const { return connection_.get(); }
    Connection& operator*() const { return *connection_; }

    // Closes the connection instead of giving it back (it broke, or was left mid-query); the pool
    // opens a new one when needed.
    void Discard() {
      connection_.reset();
      pool_->Forget();
    }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  // Adds a connection opened already (the one a backend opens at start to fail early).
  void Add(std::unique_ptr<Connection> connection) {
    absl::MutexLock lock(&mutex_);
    idle_.push_back(std::move(connection));
    ++open_;
  }

  // A free connection: an idle one, or a new one while fewer than max_connections exist.
  // kUnavailable when none frees up in time, kDeadlineExceeded when `deadline` came first, or the
  // opener's error.
  absl::StatusOr<Lease> Acquire(absl::Time deadline) {
    const absl::Time wait_until = std::min(absl::Now() + wait_, deadline);
    if (!mutex_.LockWhenWithDeadline(absl::Condition(this, &ConnectionPool::CanAcquire),
                                     wait_until)) {
      mutex_.Unlock();
      if (wait_until == deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("the deadline passed while waiting for a connection to ", name_));
      }
      return absl::UnavailableError(absl::StrCat("all ", max_connections_, " connections to ",
                                                 name_, " stayed busy for ",
                                                 absl::FormatDuration(wait_)));
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      mutex_.Unlock();
      return Lease(this, std::move(connection));
    }
    // Opening takes I/O: do it outside the lock, holding a slot.
    ++open_;
    mutex_.Unlock();
    absl::StatusOr<std::unique_ptr<Connection>> connection = open_connection_();
    if (!connection.ok()) {
      Forget();
      return connection.status();
    }
    return Lease(this, *std::move(connection));
  }

 private:
  bool CanAcquire() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return !idle_.empty() || open_ < max_connections_;
  }

  void Release(std::unique_ptr<Connection> connection) {
    absl::MutexLock lock(&mutex_);
    idle_.push_back(std::move(connection));
  }

  void Forget() {
    absl::MutexLock lock(&mutex_);
    --open_;
  }

  const std::string name_;
  const int max_connections_;
  const absl::Duration wait_;
  const Opener open_connection_;
  absl::Mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mutex_);
  // Connections that exist, idle or leased.
  int open_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_CONNECTION_POOL_H_
