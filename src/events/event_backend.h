#ifndef NDX_EVENTS_EVENT_BACKEND_H_
#define NDX_EVENTS_EVENT_BACKEND_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ndx/v1/events.pb.h"

namespace ndx::events {

// Events expired by the retention period before a subscription acknowledged them.
struct ExpiredEvents {
  std::string subscriber;
  std::string dataset;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
};

// What one Sweep removed.
struct SweepResult {
  std::vector<v1::Subscription> deleted_subscriptions;
  uint64_t acknowledged_events = 0;    // removed because every subscription had acknowledged them
  uint64_t expired_event_count = 0;    // removed by the retention period
  std::vector<ExpiredEvents> expired;  // per subscription that had not acknowledged them
};

// What another gateway sharing the store did, for the streams this gateway has open.
struct RemoteChange {
  enum class Kind {
    kPublished,     // an event was appended to `dataset`; to any dataset when it is empty (the
                    // store was unreachable for a while: notices may have been lost)
    kAcknowledged,  // `subscriber` acknowledged `dataset` up to `sequence`
    kSubscribed,    // `subscriber` opened a stream of `dataset` there: one here is superseded
  };
  Kind kind = Kind::kPublished;
  std::string dataset;
  std::string subscriber;
  uint64_t sequence = 0;
};

// The durable store of event references and subscriptions that the Events service runs on:
// EventStore (RocksDB, one gateway) or JetStreamEventStore (NATS JetStream, shared by the
// replicas of a gateway cluster).
//
// Each dataset has its own sequence, from 1 and without gaps. A subscription is a (subscriber,
// dataset) pair with its position, the last acknowledged sequence; it is created at the
// dataset's head, so it receives the events published after it. An event is kept until every
// subscription to its dataset acknowledged it or the retention period removed it. Record keys
// are stored sealed: Read returns them in the clear.
//
// Every method is durable when it returns. What cannot be done now (a store that cannot be
// reached) is kUnavailable, and nothing was changed unless the method says otherwise.
// Implementations are thread-safe.
class EventBackend {
 public:
  virtual ~EventBackend() = default;

  // Appends `event` to its dataset with the next sequence (the given one is ignored) and returns
  // it as stored.
  virtual absl::StatusOr<v1::Event> Append(v1::Event event) = 0;

  // Up to `limit` stored events of `dataset` with a sequence >= `from`, in order. Events removed
  // (acknowledged by all, or expired) are skipped: the first returned may be beyond `from`.
  virtual absl::StatusOr<std::vector<v1::Event>> Read(absl::string_view dataset, uint64_t from,
                                                      size_t limit) const = 0;

  // The sequence of the dataset's latest event; 0 when none was ever published.
  virtual absl::StatusOr<uint64_t> ReadHead(absl::string_view dataset) const = 0;

  // The subscription of `subscriber` to `dataset`; nullopt when there is none.
  virtual absl::StatusOr<std::optional<v1::Subscription>> LookupSubscription(
      absl::string_view subscriber, absl::string_view dataset) const = 0;
  // Every subscription, by dataset then subscriber; only those to `dataset` when it is not empty.
  virtual absl::StatusOr<std::vector<v1::Subscription>> ListSubscriptions(
      absl::string_view dataset) const = 0;
  // How many subscriptions `dataset` has.
  virtual absl::StatusOr<size_t> CountSubscriptions(absl::string_view dataset) const = 0;

  // Stores `subscription` (created or replaced) and returns it as stored. With `at_head`, its
  // position becomes the dataset's head: it will receive the events appended after this call.
  // Otherwise its position is kept as given; kInvalidArgument when that is beyond the head.
  //
  // A new subscription (its subscriber has none to the dataset yet) is stored only if `admit`,
  // asked with how many subscriptions the subscriber has now, returns OK; otherwise its refusal is
  // returned. It must not call the store.
  using AdmitNew = absl::FunctionRef<absl::Status(size_t subscriber_subscriptions)>;
  virtual absl::StatusOr<v1::Subscription> OpenSubscription(v1::Subscription subscription,
                                                            bool at_head, AdmitNew admit) = 0;

  // Moves the subscription's position to `sequence` when that is further; returns the position.
  // kNotFound without such a subscription, kInvalidArgument for a sequence beyond the head.
  virtual absl::StatusOr<uint64_t> Acknowledge(absl::string_view subscriber,
                                               absl::string_view dataset, uint64_t sequence) = 0;

  // Removes the events of `dataset` that every subscription to it has acknowledged. Returns how
  // many were removed.
  virtual absl::StatusOr<uint64_t> TrimAcknowledged(absl::string_view dataset) = 0;

  // Housekeeping over every dataset: deletes the subscriptions for which `keep` is false (their
  // grant ended), removes what every remaining subscription acknowledged, then the events
  // published before `expire_before`, counting those not yet acknowledged into each
  // subscription's expired_events.
  virtual absl::StatusOr<SweepResult> Sweep(absl::FunctionRef<bool(const v1::Subscription&)> keep,
                                            absl::Time expire_before) = 0;

  // Whether other gateways share this store, so that what they do reaches this one only through
  // the listener below (and a gateway should also look again now and then, since a notice can be
  // lost while the connection to the store is down).
  virtual bool shared() const = 0;

  // Calls `listener` (from a thread of the store) for what other gateways sharing the store do;
  // an empty function stops the calls, and once it returns none is running. Never called for a
  // store that is not shared.
  using ChangeListener = std::function<void(const RemoteChange&)>;
  virtual void SetChangeListener(ChangeListener listener) = 0;

  // Tells the other gateways sharing the store that `subscriber` now has a stream of `dataset`
  // here, so that they end theirs. Best effort: does nothing for a store that is not shared.
  virtual void AnnounceStream(absl::string_view subscriber, absl::string_view dataset) = 0;
};

}  // namespace ndx::events

#endif  // NDX_EVENTS_EVENT_BACKEND_H_
