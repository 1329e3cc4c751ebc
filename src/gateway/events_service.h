#ifndef NDX_GATEWAY_EVENTS_SERVICE_H_
#define NDX_GATEWAY_EVENTS_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "audit/audit_sink.h"
#include "common/clock.h"
#include "events/event_backend.h"
#include "gateway/caller.h"
#include "gateway/node_limits.h"
#include "ndx/v1/events.grpc.pb.h"
#include "registry/authorizer.h"
#include "registry/registry.h"

namespace ndx::gateway {

class SubscriptionStream;

struct EventsOptions {
  CallerPolicy callers;
  // How long an unacknowledged event is kept.
  absl::Duration retention = absl::Hours(24 * 7);
  // Time between two removals of expired events and of subscriptions whose grant ended.
  absl::Duration expiry_interval = absl::Seconds(60);
  // Time between two looks at the registry for grant changes that end open streams.
  absl::Duration registry_poll_interval = absl::Milliseconds(200);
  // Caps each node's open Subscribe streams and stored subscriptions; none without it.
  NodeLimits* node_limits = nullptr;
  // With a store shared by gateway replicas: time between two looks at the positions and heads
  // of the open streams, which makes up for notices of other replicas lost while the store was
  // unreachable.
  absl::Duration shared_store_poll_interval = absl::Seconds(2);
};

// The Events gRPC service: owners publish references to their records, granted nodes subscribe
// to them (see proto/ndx/v1/events.proto). Publish, Ack and ListSubscriptions are blocking calls,
// like the Registry's; Subscribe is a callback stream, so an idle subscriber holds no thread.
// Every call is audited; a stream is audited when it opens, and when the end of its grant ends
// it. A publication is audited before the event is stored: no event is delivered whose
// publication is not on record.
//
// A background thread ends the streams whose grant is no longer in force as soon as the registry
// changes, and removes expired events and the subscriptions of ended grants every
// expiry_interval. Thread-safe; the store, registry, audit sink and clock must outlive it.
//
// The store may be shared by the replicas of a gateway cluster (JetStream): a subscriber may
// publish, subscribe and acknowledge through any replica. The store tells this service what the
// others do (a publication wakes the dataset's streams here, an acknowledgement moves the window
// of the subscription's stream here, a newer stream there supersedes the one here), and every
// shared_store_poll_interval the service looks again at the open streams, for notices lost while
// the store was unreachable. Revocations reach every replica through its registry.
//
// Locking: `streams_mutex_` is held only to look up, add or remove open streams, never while a
// stream runs. Waking streams reads the event store and ending one appends (in the power-loss
// mode: syncs) an audit entry; under the one lock that every publication, acknowledgement and
// Subscribe takes, one revocation waking thousands of streams would stall them all. Each stream
// decides under its own lock and audits its end after releasing it (see SubscriptionStream).
class EventsService final : public v1::Events::WithCallbackMethod_Subscribe<v1::Events::Service> {
 public:
  EventsService(EventsOptions options, events::EventBackend* store, registry::Registry* registry,
                audit::AuditSink* audit, const Clock* clock);
  // Stops the background thread. The gRPC server must be shut down first: no stream may be open.
  ~EventsService() override;

  grpc::Status Publish(grpc::ServerContext* context, const v1::PublishRequest* request,
                       v1::PublishResponse* response) override;
  grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) override;
  grpc::Status Ack(grpc::ServerContext* context, const v1::AckRequest* request,
                   v1::AckResponse* response) override;
  grpc::Status ListSubscriptions(grpc::ServerContext* context,
                                 const v1::ListSubscriptionsRequest* request,
                                 v1::ListSubscriptionsResponse* response) override;

  // One pass of the expiry work, for tests and the background thread.
  void RemoveExpired() ABSL_LOCKS_EXCLUDED(streams_mutex_);

  // Ends every open stream with UNAVAILABLE, which subscribers take as "subscribe again", and
  // waits up to `wait` for them to be done: for a gateway that is stopping, before the server
  // cancels what is left.
  void EndStreams(absl::Duration wait) ABSL_LOCKS_EXCLUDED(streams_mutex_);

 private:
  friend class SubscriptionStream;
  // (dataset, subscriber): a dataset's streams are one range of `streams_`.
  using StreamKey = std::pair<std::string, std::string>;

  // The open streams, so that a publication, an acknowledgement or a registry change reaches
  // them. A stream is registered once its subscription is durable and unregistered in its
  // OnDone. Callers copy the streams they need under `streams_mutex_` and call them after
  // releasing it; the shared_ptr keeps a stream alive past its OnDone while a call runs.
  void Register(std::shared_ptr<SubscriptionStream> stream) ABSL_LOCKS_EXCLUDED(streams_mutex_);
  void Unregister(const SubscriptionStream* stream) ABSL_LOCKS_EXCLUDED(streams_mutex_);
  // The open streams of `dataset`, or all of them when it is empty.
  std::vector<std::shared_ptr<SubscriptionStream>> OpenStreams(const std::string& dataset = "")
      ABSL_LOCKS_EXCLUDED(streams_mutex_);
  std::shared_ptr<SubscriptionStream> FindStream(const std::string& subscriber,
                                                 const std::string& dataset)
      ABSL_LOCKS_EXCLUDED(streams_mutex_);
  void WakeDataset(const std::string& dataset) ABSL_LOCKS_EXCLUDED(streams_mutex_);
  void WakeAll() ABSL_LOCKS_EXCLUDED(streams_mutex_);

  // The grant a Subscribe is allowed under: one in force that covers the purpose, the subscribe
  // operation and the dataset's key field (kFailedPrecondition naming the key field when only
  // that is missing).
  absl::StatusOr<registry::GrantMatch> SubscribeGrant(const registry::Snapshot& snapshot,
                                                      const std::string& subscriber,
                                                      const v1::SubscribeRequest& request,
                                                      absl::Time now) const;
  // OK while the subscriber is active, the subscription's grant in force and, with a CRL, the
  // certificate the stream was opened with not revoked.
  absl::Status StillAllowed(const v1::Subscription& subscription,
                            absl::string_view peer_certificate) const;
  // Audits the end of a stream's delivery, for `reason`, under the record that opened it. May
  // wait for a synced write: no lock of the service or of a stream may be held.
  void RecordEnd(const audit::AuditRecord& opening, const absl::Status& reason)
      ABSL_LOCKS_EXCLUDED(streams_mutex_);

  void Maintain() ABSL_LOCKS_EXCLUDED(streams_mutex_);
  // What another replica sharing the store did. Called from a thread of the store.
  void OnRemoteChange(const events::RemoteChange& change) ABSL_LOCKS_EXCLUDED(streams_mutex_);
  // Reads each open stream's position afresh and wakes it: for a shared store.
  void RefreshStreams() ABSL_LOCKS_EXCLUDED(streams_mutex_);

  const EventsOptions options_;
  events::EventBackend* const store_;
  registry::Registry* const registry_;
  audit::AuditSink* const audit_;
  const Clock* const clock_;

  absl::Mutex streams_mutex_;
  absl::btree_map<StreamKey, std::shared_ptr<SubscriptionStream>> streams_
      ABSL_GUARDED_BY(streams_mutex_);

  absl::Notification stopping_;
  std::thread maintainer_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_EVENTS_SERVICE_H_
