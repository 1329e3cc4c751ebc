#ifndef NDX_EVENTS_EVENT_STORE_H_
#define NDX_EVENTS_EVENT_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crypto/sealer.h"
#include "events/event_backend.h"
#include "ndx/v1/events.pb.h"

namespace rocksdb {
class DB;
}

namespace ndx::events {

struct EventStoreOptions {
  // Directory of the RocksDB database; created 0700 if missing, tightened if open to group or
  // others.
  std::string dir;
  // Sync every write to disk before it returns (power-loss durable); otherwise writes reach the
  // operating system only (they survive a crash of the process, not of the machine).
  bool sync = true;
  // Seals the record key of each stored event: a key is often a citizen identifier, and the
  // gateway keeps none in the clear. Required.
  std::optional<crypto::Sealer> key_sealer;
};

// The gateway's durable store of event references and subscriptions, in RocksDB.
//
// Each dataset has its own sequence, from 1 and without gaps. An event is kept only while some
// subscription to its dataset has not acknowledged it: an event published to a dataset without
// subscriptions only advances the sequence, and trimming removes what every subscription has
// acknowledged. A subscription is a (subscriber, dataset) pair with its position, the last
// acknowledged sequence; it is created at the dataset's head, so it receives the events published
// after it.
//
// Events are stored with their record key sealed (EventStoreOptions::key_sealer) and bound to
// their dataset and sequence; Read returns them with the key in the clear.
//
// Every method is durable when it returns (see EventStoreOptions::sync). Thread-safe: writes are
// serialized, reads of events take no lock. It is the EventBackend of a single gateway: the
// methods of that interface that may fail are thin wrappers of those below that cannot.
class EventStore final : public EventBackend {
 public:
  static absl::StatusOr<std::unique_ptr<EventStore>> Open(const EventStoreOptions& options);
  ~EventStore() override;

  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Appends `event` to its dataset with the next sequence (the given one is ignored) and returns
  // it as stored. kInternal when the write fails (nothing changes then).
  absl::StatusOr<v1::Event> Append(v1::Event event) override;

  // Up to `limit` stored events of `dataset` with a sequence >= `from`, in order.
  absl::StatusOr<std::vector<v1::Event>> Read(absl::string_view dataset, uint64_t from,
                                              size_t limit) const override;

  // The sequence of the dataset's latest event; 0 when none was ever published.
  uint64_t Head(absl::string_view dataset) const;

  // The subscription of `subscriber` to `dataset`, if any.
  std::optional<v1::Subscription> FindSubscription(absl::string_view subscriber,
                                                   absl::string_view dataset) const;
  // Every subscription, by dataset then subscriber; only those to `dataset` when it is not empty.
  std::vector<v1::Subscription> Subscriptions(absl::string_view dataset = "") const;
  // How many subscriptions `dataset` has.
  size_t SubscriptionCount(absl::string_view dataset) const;

  // Stores `subscription` (created or replaced) and returns it as stored. With `at_head`, its
  // position becomes the dataset's head, atomically with respect to Append: it will receive
  // exactly the events appended after this call. Otherwise its position is kept as given;
  // kInvalidArgument when that is beyond the head.
  //
  // A new subscription (its subscriber has none to the dataset yet) is stored only if `admit`,
  // asked with how many subscriptions the subscriber has now, returns OK; otherwise its refusal is
  // returned. It is asked under the store's lock, so that concurrent calls cannot all pass one
  // cap: it must not call the store.
  absl::StatusOr<v1::Subscription> OpenSubscription(v1::Subscription subscription, bool at_head,
                                                    AdmitNew admit) override;
  absl::StatusOr<v1::Subscription> OpenSubscription(v1::Subscription subscription, bool at_head) {
    return OpenSubscription(std::move(subscription), at_head, AdmitAll);
  }

  // Moves the subscription's position to `sequence` when that is further; returns the position.
  // kNotFound without such a subscription, kInvalidArgument for a sequence beyond the head.
  absl::StatusOr<uint64_t> Acknowledge(absl::string_view subscriber, absl::string_view dataset,
                                       uint64_t sequence) override;

  // Removes the events of `dataset` that every subscription to it has acknowledged. Returns how
  // many were removed.
  absl::StatusOr<uint64_t> TrimAcknowledged(absl::string_view dataset) override;

  // Housekeeping over every dataset: deletes the subscriptions for which `keep` is false (their
  // grant ended), removes what every remaining subscription acknowledged, then the events
  // published before `expire_before`, counting those not yet acknowledged into each
  // subscription's expired_events.
  absl::StatusOr<SweepResult> Sweep(absl::FunctionRef<bool(const v1::Subscription&)> keep,
                                    absl::Time expire_before) override;

  // EventBackend: one gateway's store, which nobody else changes.
  absl::StatusOr<uint64_t> ReadHead(absl::string_view dataset) const override {
    return Head(dataset);
  }
  absl::StatusOr<std::optional<v1::Subscription>> LookupSubscription(
      absl::string_view subscriber, absl::string_view dataset) const override {
    return FindSubscription(subscriber, dataset);
  }
  absl::StatusOr<std::vector<v1::Subscription>> ListSubscriptions(
      absl::string_view dataset) const override {
    return Subscriptions(dataset);
  }
  absl::StatusOr<size_t> CountSubscriptions(absl::string_view dataset) const override {
    return SubscriptionCount(dataset);
  }
  bool shared() const override { return false; }
  void SetChangeListener(ChangeListener) override {}
  void AnnounceStream(absl::string_view, absl::string_view) override {}

 private:
  static absl::Status AdmitAll(size_t) { return absl::OkStatus(); }
  // How many subscriptions `subscriber` has, to every dataset.
  size_t SubscriberSubscriptionCountLocked(absl::string_view subscriber) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  struct DatasetState {
    uint64_t head = 0;
    // No stored event of the dataset has a lower sequence.
    uint64_t first = 1;
    absl::btree_map<std::string, v1::Subscription> subscriptions;  // by subscriber
  };

  EventStore(std::unique_ptr<rocksdb::DB> db, bool sync, crypto::Sealer key_sealer);
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Seals the keys of the events an earlier version stored in the clear.
  absl::Status SealClearEventsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The stored form of `event`'s key (its sequence set).
  std::string SealKey(const v1::Event& event) const;
  // Removes stored events [state.first, through] of `dataset`.
  absl::Status RemoveThroughLocked(const std::string& dataset, DatasetState& state,
                                   uint64_t through) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The lowest position of the dataset's subscriptions; its head when it has none.
  static uint64_t LowestPosition(const DatasetState& state);

  const std::unique_ptr<rocksdb::DB> db_;
  const bool sync_;
  const crypto::Sealer key_sealer_;
  mutable absl::Mutex mutex_;
  absl::btree_map<std::string, DatasetState> datasets_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace ndx::events

#endif  // NDX_EVENTS_EVENT_STORE_H_
