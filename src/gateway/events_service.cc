#include "gateway/events_service.h"

#include <grpc/grpc_security_constants.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "gateway/audited_call.h"
#include "gateway/caller.h"
#include "gateway/read_validation.h"
#include "registry/authorizer.h"

namespace ndx::gateway {
namespace {

constexpr uint32_t kDefaultMaxUnacknowledged = 100;
constexpr uint32_t kMaxUnacknowledged = 1000;
// Events read from the store at once for one stream.
constexpr size_t kReadBatch = 64;

}  // namespace

// A Subscribe call refused before its stream started: it only carries the refusal.
class RefusedSubscription final : public grpc::ServerWriteReactor<v1::SubscribeResponse> {
 public:
  explicit RefusedSubscription(const grpc::Status& refusal) { Finish(refusal); }
  void OnDone() override { delete this; }
};

// One open Subscribe call. It sends the subscription's events in order, at most `window` beyond
// the acknowledged position, and waits (holding no thread) when it has nothing to send or the
// window is full; the service wakes it on a publication, an acknowledgement or a registry
// change. Before each event it checks that the subscriber and its grant are still in force.
//
// Wake decides under `mutex_` what comes next (an event, nothing yet, or the end) and starts the
// gRPC operation after releasing it: `writing_` keeps a single write outstanding, and Finish is
// called once, when no write is outstanding. The decision reads the registry snapshot and the
// event store (a RocksDB read, never a write or a sync); the audit entry of an end, which may
// wait for a synced append, is written after releasing `mutex_` by the one Wake that set
// `finished_`. Nothing here runs under the service's `streams_mutex_`.
//
// No wake-up is lost although wakers call in without the service's lock: Wake remembers nothing
// of why it was called and reads the acknowledged position, the dataset's head and the registry
// afresh under `mutex_`, so every Wake that starts after a change sees it, and two Wakes of one
// stream run one after the other. A Wake that finds the stream busy (initial metadata or a write
// outstanding) may return because the callback that ends the busy state wakes it again. A
// publication stores its event before it collects the streams to wake, and a stream that
// registers after that collection reads the head in its first Wake, which follows its
// registration.
//
// The stream owns itself (`self_`) from Create to OnDone, and whoever wakes it holds a reference
// too, so that a stream woken outside the service's lock outlives an OnDone that happens
// meanwhile: the last reference deletes it (a Wake after OnDone does nothing, `finished_` being
// set before Finish).
class SubscriptionStream final : public grpc::ServerWriteReactor<v1::SubscribeResponse> {
 public:
  // `node_stream` is the subscriber's place among its node's open streams, given back when the
  // stream is done.
  static std::shared_ptr<SubscriptionStream> Create(EventsService* service,
                                                    v1::Subscription subscription, uint32_t window,
                                                    audit::AuditRecord opening,
                                                    std::string peer_certificate,
                                                    NodeLimits::Hold node_stream) {
    std::shared_ptr<SubscriptionStream> stream(
        new SubscriptionStream(service, std::move(subscription), window, std::move(opening),
                               std::move(peer_certificate), std::move(node_stream)));
    stream->self_ = stream;
    return stream;
  }

  // Joins the service's open streams (ending an older stream of the same subscription) and
  // tells the subscriber, through the initial metadata, that its subscription is durable.
  void Start() {
    service_->Register(self_);
    StartSendInitialMetadata();
  }

  const std::string& subscriber() const { return subscription_.subscriber(); }
  const std::string& dataset() const { return subscription_.dataset(); }

  void Supersede() ABSL_LOCKS_EXCLUDED(mutex_) {
    {
      absl::MutexLock lock(&mutex_);
      ending_ = grpc::Status(grpc::StatusCode::ABORTED,
                             absl::StrCat("a newer Subscribe call of node ", subscriber(), " to ",
                                          dataset(), " took over this subscription"));
    }
    Wake();
  }

  void End(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mutex_) {
    {
      absl::MutexLock lock(&mutex_);
      SetEndingLocked(status);
    }
    Wake();
  }

  void Acknowledged(uint64_t sequence) ABSL_LOCKS_EXCLUDED(mutex_) {
    {
      absl::MutexLock lock(&mutex_);
      acknowledged_ = std::max(acknowledged_, sequence);
    }
    Wake();
  }

  // Sends what can be sent now, or finishes the stream if it must end.
  void Wake() ABSL_LOCKS_EXCLUDED(mutex_) {
    std::optional<grpc::Status> finish;
    // Set when this Wake ends the stream because its grant or subscriber is no longer in force.
    std::optional<absl::Status> no_longer_allowed;
    bool write = false;
    {
      absl::MutexLock lock(&mutex_);
      if (finished_ || writing_ || !metadata_sent_) return;
      if (!ending_.has_value()) {
        absl::Status allowed = service_->StillAllowed(subscription_, peer_certificate_);
        if (!allowed.ok()) {
          ending_ = ToGrpcStatus(absl::PermissionDeniedError(
              absl::StrCat("delivery of ", dataset(), " stopped: ", allowed.message())));
          no_longer_allowed = std::move(allowed);
        }
      }
      if (!ending_.has_value()) {
        absl::StatusOr<bool> next = NextResponseLocked();
        if (!next.ok()) {
          ending_ = ToGrpcStatus(next.status());
        } else {
          write = *next;
        }
      }
      if (ending_.has_value()) {
        finished_ = true;
        finish = *ending_;
      } else if (write) {
        writing_ = true;
      }
    }
    // finished_ is set: no other Wake gets here for this stream, so the end is audited once.
    if (no_longer_allowed.has_value()) AuditEnd(*no_longer_allowed);
    if (finish.has_value()) {
      Finish(*finish);
    } else if (write) {
      StartWrite(&response_);
    }
  }

  void OnSendInitialMetadataDone(bool ok) override {
    {
      absl::MutexLock lock(&mutex_);
      metadata_sent_ = true;
      if (!ok) SetEndingLocked(grpc::Status::CANCELLED);
    }
    Wake();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mutex_);
      writing_ = false;
      if (!ok) SetEndingLocked(grpc::Status::CANCELLED);
    }
    Wake();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mutex_);
      SetEndingLocked(grpc::Status::CANCELLED);
    }
    Wake();
  }

  void OnDone() override {
    // Taken first, so that this frame keeps the stream alive until it returns; a waker's
    // reference, if any, deletes it later.
    std::shared_ptr<SubscriptionStream> self = std::move(self_);
    service_->Unregister(this);
    node_stream_.Release();
  }

 private:
  SubscriptionStream(EventsService* service, v1::Subscription subscription, uint32_t window,
                     audit::AuditRecord opening, std::string peer_certificate,
                     NodeLimits::Hold node_stream)
      : service_(service),
        subscription_(std::move(subscription)),
        peer_certificate_(std::move(peer_certificate)),
        window_(window),
        opening_(std::move(opening)),
        node_stream_(std::move(node_stream)),
        acknowledged_(subscription_.acknowledged_sequence()),
        next_(acknowledged_ + 1) {}

  // May wait for a synced audit append.
  void AuditEnd(const absl::Status& reason) ABSL_LOCKS_EXCLUDED(mutex_) {
    service_->RecordEnd(opening_, reason);
  }

  void SetEndingLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (!ending_.has_value()) ending_ = status;
  }

  // Fills response_ with the next thing to send: the next event, or the notice of events that
  // expired before they were sent. False when there is nothing to send now.
  absl::StatusOr<bool> NextResponseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    // The subscriber may acknowledge beyond what it was sent, skipping those events.
    if (acknowledged_ >= next_) next_ = acknowledged_ + 1;
    while (!buffer_.empty() && buffer_.front().sequence() < next_) buffer_.pop_front();
    if (next_ - 1 - acknowledged_ >= window_) return false;
    NDX_ASSIGN_OR_RETURN(uint64_t head, service_->store_->ReadHead(dataset()));
    if (next_ > head) return false;
    if (buffer_.empty()) {
      NDX_ASSIGN_OR_RETURN(std::vector<v1::Event> events,
                           service_->store_->Read(dataset(), next_, kReadBatch));
      buffer_.assign(std::make_move_iterator(events.begin()),
                     std::make_move_iterator(events.end()));
    }
    // Events from next_ to the first stored one were removed unacknowledged: by the retention
    // period, since trimming only removes what this subscription acknowledged.
    uint64_t first_stored = buffer_.empty() ? head + 1 : buffer_.front().sequence();
    if (first_stored > next_) {
      v1::EventsExpired* expired = response_.mutable_expired();
      expired->set_dataset(dataset());
      expired->set_first_sequence(next_);
      expired->set_last_sequence(first_stored - 1);
      expired->set_retention_seconds(
          static_cast<uint64_t>(absl::ToInt64Seconds(service_->options_.retention)));
      next_ = first_stored;
      return true;
    }
    *response_.mutable_event() = std::move(buffer_.front());
    buffer_.pop_front();
    next_ = response_.event().sequence() + 1;
    return true;
  }

  EventsService* const service_;
  const v1::Subscription subscription_;
  // The PEM of the certificate the subscriber opened the stream with, checked against the CRL
  // before every event.
  const std::string peer_certificate_;
  const uint32_t window_ = kDefaultMaxUnacknowledged;
  // The audit record of the Subscribe call, for the record of its end.
  const audit::AuditRecord opening_;
  // Released by OnDone; nothing else touches it.
  NodeLimits::Hold node_stream_;
  // Set by Create, cleared by OnDone; nothing else touches it.
  std::shared_ptr<SubscriptionStream> self_;

  absl::Mutex mutex_;
  uint64_t acknowledged_ ABSL_GUARDED_BY(mutex_) = 0;
  // The sequence of the next event to send.
  uint64_t next_ ABSL_GUARDED_BY(mutex_) = 1;
  std::deque<v1::Event> buffer_ ABSL_GUARDED_BY(mutex_);
  v1::SubscribeResponse response_;  // owned by the outstanding write while writing_
  bool metadata_sent_ ABSL_GUARDED_BY(mutex_) = false;
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  std::optional<grpc::Status> ending_ ABSL_GUARDED_BY(mutex_);
};

EventsService::EventsService(EventsOptions options, events::EventBackend* store,
                             registry::Registry* registry, audit::AuditSink* audit,
                             const Clock* clock)
    : options_(std::move(options)),
      store_(store),
      registry_(registry),
      audit_(audit),
      clock_(clock),
      maintainer_([this] { Maintain(); }) {
  store_->SetChangeListener([this](const events::RemoteChange& change) { OnRemoteChange(change); });
}

EventsService::~EventsService() {
  // Once this returns, the store calls this service no more.
  store_->SetChangeListener(nullptr);
  stopping_.Notify();
  maintainer_.join();
}

absl::Status EventsService::StillAllowed(const v1::Subscription& subscription,
                                         absl::string_view peer_certificate) const {
  // A stream outlives the revocation of the certificate it was opened with.
  if (options_.callers.revocation != nullptr &&
      options_.callers.revocation->IsRevoked(peer_certificate)) {
    return absl::UnauthenticatedError(
        absl::StrCat("the certificate of node ", subscription.subscriber(), " has been revoked"));
  }
  // A replica that cannot confirm its registry current may miss the revocation of this grant.
  NDX_RETURN_IF_ERROR(registry_->CheckFresh());
  std::shared_ptr<const registry::Snapshot> snapshot = registry_->snapshot();
  NDX_RETURN_IF_ERROR(registry::ActiveCaller(*snapshot, subscription.subscriber()).status());
  return registry::CheckGrantInForce(*snapshot, subscription.subscriber(), subscription.grant_id(),
                                     clock_->Now());
}

void EventsService::RecordEnd(const audit::AuditRecord& opening, const absl::Status& reason) {
  audit::AuditRecord record = opening;
  record.time = clock_->Now();
  record.allowed = false;
  record.code = absl::StatusCode::kPermissionDenied;
  record.reason = absl::StrCat("delivery stopped: ", reason.message());
  record.latency = absl::ZeroDuration();
  spdlog::info("stopped delivering {} to {} ({}): {}", record.dataset, record.caller,
               record.request_id, reason.ToString());
  audit_->Append(std::move(record), [](absl::Status appended) {
    if (!appended.ok()) spdlog::error("audit append failed: {}", appended.ToString());
  });
}

grpc::Status EventsService::Publish(grpc::ServerContext* context, const v1::PublishRequest* request,
                                    v1::PublishResponse* response) {
  std::shared_ptr<const registry::Snapshot> snapshot = registry_->snapshot();
  AuditedCall call(*context, *audit_, *clock_, "Events.Publish", snapshot->revision());
  audit::AuditRecord& record = call.record();
  record.dataset = request->dataset();
  absl::Status status = [&]() -> absl::Status {
    NDX_ASSIGN_OR_RETURN(record.caller, CallerNodeId(*context, options_.callers));
    NDX_RETURN_IF_ERROR(registry_->CheckFresh());
    NDX_RETURN_IF_ERROR(ValidateDatasetId(request->dataset()));
    NDX_RETURN_IF_ERROR(ValidateRecordKey(request->key()));
    NDX_RETURN_IF_ERROR(ValidateEventType(request->type()));
    NDX_RETURN_IF_ERROR(registry::ActiveCaller(*snapshot, record.caller).status());
    const registry::DatasetEntry* entry = snapshot->FindDataset(request->dataset());
    if (entry == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("dataset ", request->dataset(), " is not registered"));
    }
    if (entry->dataset.owner() != record.caller) {
      return absl::PermissionDeniedError(
          absl::StrCat("node ", record.caller, " does not own dataset ", request->dataset(),
                       "; only its owner ", entry->dataset.owner(), " publishes its events"));
    }
    if (!entry->dataset.subject_field().empty() &&
        entry->dataset.subject_field() == entry->dataset.key_field()) {
      record.subjects.push_back(request->key());
    }
    record.record_count = 1;
    // No event reaches a subscriber unless its publication is on record.
    NDX_RETURN_IF_ERROR(call.RecordBeforeApply());
    v1::Event event;
    event.set_dataset(request->dataset());
    event.set_key(request->key());
    event.set_type(request->type());
    event.set_publisher(record.caller);
    *event.mutable_published_at() = ToProtoTime(clock_->Now());
    NDX_ASSIGN_OR_RETURN(*response->mutable_event(), store_->Append(std::move(event)));
    // The event is stored: failing the call now would make the owner publish it again. The count
    // is only informative.
    absl::StatusOr<size_t> subscriptions = store_->CountSubscriptions(request->dataset());
    if (subscriptions.ok()) {
      response->set_subscriptions(static_cast<uint32_t>(*subscriptions));
    } else {
      spdlog::warn("counting the subscriptions of {}: {}", request->dataset(),
                   subscriptions.status().ToString());
    }
    return absl::OkStatus();
  }();
  status = call.FinishAndWait(std::move(status));
  if (status.ok()) WakeDataset(request->dataset());
  return ToGrpcStatus(status);
}

absl::StatusOr<registry::GrantMatch> EventsService::SubscribeGrant(
    const registry::Snapshot& snapshot, const std::string& subscriber,
    const v1::SubscribeRequest& request, absl::Time now) const {
  registry::ReadRequest read;
  read.dataset = request.dataset();
  read.operation = v1::OPERATION_SUBSCRIBE;
  read.purpose = request.purpose();
  const registry::DatasetEntry* entry = snapshot.FindDataset(request.dataset());
  if (entry == nullptr) return registry::FindCoveringGrant(snapshot, subscriber, read, now);
  // Every event names its record by key: only a grant that covers the key field may receive
  // them.
  const std::string& key_field = entry->dataset.key_field();
  read.fields = absl::MakeConstSpan(&key_field, 1);
  absl::StatusOr<registry::GrantMatch> match =
      registry::FindCoveringGrant(snapshot, subscriber, read, now);
  if (match.ok() || match.status().code() != absl::StatusCode::kPermissionDenied) return match;
  read.fields = {};
  absl::StatusOr<registry::GrantMatch> without_key =
      registry::FindCoveringGrant(snapshot, subscriber, read, now);
  if (!without_key.ok()) return match;
  return absl::FailedPreconditionError(
      absl::StrCat("events of ", request.dataset(), " name their records by the key field ",
                   key_field, ", which grant ", without_key->grant->id(),
                   " does not cover; subscribing needs a grant that covers ", key_field));
}

grpc::ServerWriteReactor<v1::SubscribeResponse>* EventsService::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  std::shared_ptr<const registry::Snapshot> snapshot = registry_->snapshot();
  AuditedCall call(*context, *audit_, *clock_, "Events.Subscribe", snapshot->revision());
  audit::AuditRecord& record = call.record();
  record.dataset = request->dataset();
  record.purpose = request->purpose();
  v1::Subscription subscription;
  NodeLimits::Hold node_stream;
  absl::Status status = [&]() -> absl::Status {
    NDX_ASSIGN_OR_RETURN(record.caller, CallerNodeId(*context, options_.callers));
    NDX_RETURN_IF_ERROR(registry_->CheckFresh());
    if (options_.node_limits != nullptr) {
      NDX_ASSIGN_OR_RETURN(
          node_stream,
          options_.node_limits->Acquire(record.caller, NodeResource::kStreams, context->peer()));
    }
    absl::Time now = clock_->Now();
    NDX_ASSIGN_OR_RETURN(registry::GrantMatch match,
                         SubscribeGrant(*snapshot, record.caller, *request, now));
    record.grant_id = match.grant->id();
    // A subscription resumes where it was while a grant of its subscriber stays in force; once
    // that grant has ended, the events published since are not this node's to receive.
    NDX_ASSIGN_OR_RETURN(std::optional<v1::Subscription> existing,
                         store_->LookupSubscription(record.caller, request->dataset()));
    bool resume =
        existing.has_value() &&
        registry::CheckGrantInForce(*snapshot, record.caller, existing->grant_id(), now).ok();
    v1::Subscription wanted;
    if (resume) {
      wanted = *std::move(existing);
    } else {
      wanted.set_subscriber(record.caller);
      wanted.set_dataset(request->dataset());
      *wanted.mutable_created_at() = ToProtoTime(now);
    }
    wanted.set_grant_id(match.grant->id());
    wanted.set_purpose(request->purpose());
    auto admit = [&](size_t held) {
      if (options_.node_limits == nullptr) return absl::OkStatus();
      return options_.node_limits->CheckHeld(record.caller, NodeResource::kSubscriptions,
                                             static_cast<int>(held));
    };
    NDX_ASSIGN_OR_RETURN(subscription, store_->OpenSubscription(std::move(wanted), !resume, admit));
    return absl::OkStatus();
  }();
  audit::AuditRecord opening = record;
  status = call.FinishAndWait(std::move(status));
  if (!status.ok()) return new RefusedSubscription(ToGrpcStatus(status));

  uint32_t window = request->max_unacknowledged() == 0
                        ? kDefaultMaxUnacknowledged
                        : std::min(request->max_unacknowledged(), kMaxUnacknowledged);
  spdlog::info("{} subscribed to {} from #{} ({})", subscription.subscriber(),
               subscription.dataset(), subscription.acknowledged_sequence() + 1,
               opening.request_id);
  std::string peer_certificate;
  if (std::shared_ptr<const grpc::AuthContext> auth = context->auth_context(); auth != nullptr) {
    std::vector<grpc::string_ref> pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pems.empty()) peer_certificate.assign(pems[0].data(), pems[0].size());
  }
  std::shared_ptr<SubscriptionStream> stream =
      SubscriptionStream::Create(this, std::move(subscription), window, std::move(opening),
                                 std::move(peer_certificate), std::move(node_stream));
  stream->Start();
  // A stream of this subscription on another replica is superseded as one here would be.
  store_->AnnounceStream(stream->subscriber(), stream->dataset());
  return stream.get();
}

grpc::Status EventsService::Ack(grpc::ServerContext* context, const v1::AckRequest* request,
                                v1::AckResponse* response) {
  std::shared_ptr<const registry::Snapshot> snapshot = registry_->snapshot();
  AuditedCall call(*context, *audit_, *clock_, "Events.Ack", snapshot->revision());
  audit::AuditRecord& record = call.record();
  record.dataset = request->dataset();
  absl::Status status = [&]() -> absl::Status {
    NDX_ASSIGN_OR_RETURN(record.caller, CallerNodeId(*context, options_.callers));
    NDX_RETURN_IF_ERROR(registry_->CheckFresh());
    NDX_RETURN_IF_ERROR(ValidateDatasetId(request->dataset()));
    NDX_RETURN_IF_ERROR(registry::ActiveCaller(*snapshot, record.caller).status());
    NDX_ASSIGN_OR_RETURN(uint64_t position, store_->Acknowledge(record.caller, request->dataset(),
                                                                request->sequence()));
    response->set_acknowledged_sequence(position);
    return absl::OkStatus();
  }();
  if (status.ok()) {
    std::shared_ptr<SubscriptionStream> stream = FindStream(record.caller, request->dataset());
    if (stream != nullptr) stream->Acknowledged(response->acknowledged_sequence());
    absl::StatusOr<uint64_t> trimmed = store_->TrimAcknowledged(request->dataset());
    if (!trimmed.ok()) spdlog::error("{}", trimmed.status().ToString());
  }
  return ToGrpcStatus(call.FinishAndWait(std::move(status)));
}

grpc::Status EventsService::ListSubscriptions(grpc::ServerContext* context,
                                              const v1::ListSubscriptionsRequest* request,
                                              v1::ListSubscriptionsResponse* response) {
  std::shared_ptr<const registry::Snapshot> snapshot = registry_->snapshot();
  AuditedCall call(*context, *audit_, *clock_, "Events.ListSubscriptions", snapshot->revision());
  audit::AuditRecord& record = call.record();
  record.dataset = request->dataset();
  absl::Status status = [&]() -> absl::Status {
    NDX_ASSIGN_OR_RETURN(record.caller, CallerNodeId(*context, options_.callers));
    NDX_RETURN_IF_ERROR(registry_->CheckFresh());
    if (!request->dataset().empty()) NDX_RETURN_IF_ERROR(ValidateDatasetId(request->dataset()));
    NDX_ASSIGN_OR_RETURN(const v1::Node* node, registry::ActiveCaller(*snapshot, record.caller));
    bool all = registry::HasRole(*node, v1::ROLE_OPERATOR);
    NDX_ASSIGN_OR_RETURN(std::vector<v1::Subscription> subscriptions,
                         store_->ListSubscriptions(request->dataset()));
    for (v1::Subscription& subscription : subscriptions) {
      if (!all && subscription.subscriber() != record.caller) continue;
      NDX_ASSIGN_OR_RETURN(uint64_t head, store_->ReadHead(subscription.dataset()));
      subscription.set_head_sequence(head);
      subscription.set_connected(FindStream(subscription.subscriber(), subscription.dataset()) !=
                                 nullptr);
      *response->add_subscriptions() = std::move(subscription);
    }
    return absl::OkStatus();
  }();
  return ToGrpcStatus(call.FinishAndWait(std::move(status)));
}

void EventsService::Register(std::shared_ptr<SubscriptionStream> stream) {
  std::shared_ptr<SubscriptionStream> superseded;
  {
    absl::MutexLock lock(&streams_mutex_);
    std::shared_ptr<SubscriptionStream>& slot =
        streams_[StreamKey(stream->dataset(), stream->subscriber())];
    superseded = std::exchange(slot, std::move(stream));
  }
  if (superseded != nullptr) superseded->Supersede();
}

void EventsService::Unregister(const SubscriptionStream* stream) {
  absl::MutexLock lock(&streams_mutex_);
  auto it = streams_.find(StreamKey(stream->dataset(), stream->subscriber()));
  // A superseded stream's slot already holds its successor.
  if (it != streams_.end() && it->second.get() == stream) streams_.erase(it);
}

std::vector<std::shared_ptr<SubscriptionStream>> EventsService::OpenStreams(
    const std::string& dataset) {
  std::vector<std::shared_ptr<SubscriptionStream>> streams;
  absl::MutexLock lock(&streams_mutex_);
  auto it = dataset.empty() ? streams_.begin() : streams_.lower_bound(StreamKey(dataset, ""));
  for (; it != streams_.end() && (dataset.empty() || it->first.first == dataset); ++it) {
    streams.push_back(it->second);
  }
  return streams;
}

std::shared_ptr<SubscriptionStream> EventsService::FindStream(const std::string& subscriber,
                                                              const std::string& dataset) {
  absl::MutexLock lock(&streams_mutex_);
  auto it = streams_.find(StreamKey(dataset, subscriber));
  return it == streams_.end() ? nullptr : it->second;
}

void EventsService::WakeDataset(const std::string& dataset) {
  for (const std::shared_ptr<SubscriptionStream>& stream : OpenStreams(dataset)) stream->Wake();
}

void EventsService::WakeAll() {
  for (const std::shared_ptr<SubscriptionStream>& stream : OpenStreams()) stream->Wake();
}

void EventsService::EndStreams(absl::Duration wait) {
  for (const std::shared_ptr<SubscriptionStream>& stream : OpenStreams()) {
    stream->End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "the gateway is stopping; subscribe again when it is back"));
  }
  absl::MutexLock lock(&streams_mutex_);
  auto all_done = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(streams_mutex_) { return streams_.empty(); };
  streams_mutex_.AwaitWithTimeout(absl::Condition(&all_done), wait);
}

void EventsService::RemoveExpired() {
  // A stale registry could take an ended grant for one in force, or the reverse: wait for etcd.
  if (!registry_->CheckFresh().ok()) return;
  std::shared_ptr<const registry::Snapshot> snapshot = registry_->snapshot();
  absl::Time now = clock_->Now();
  absl::StatusOr<events::SweepResult> result = store_->Sweep(
      [&](const v1::Subscription& subscription) {
        return registry::CheckGrantInForce(*snapshot, subscription.subscriber(),
                                           subscription.grant_id(), now)
            .ok();
      },
      now - options_.retention);
  if (!result.ok()) {
    spdlog::error("removing expired events: {}", result.status().ToString());
    return;
  }
  for (const v1::Subscription& subscription : result->deleted_subscriptions) {
    spdlog::info("removed the subscription of {} to {}: grant {} is no longer in force",
                 subscription.subscriber(), subscription.dataset(), subscription.grant_id());
  }
  for (const events::ExpiredEvents& expired : result->expired) {
    spdlog::warn("retention of {} s removed events #{}..#{} of {} before {} acknowledged them",
                 absl::ToInt64Seconds(options_.retention), expired.first_sequence,
                 expired.last_sequence, expired.dataset, expired.subscriber);
  }
}

void EventsService::OnRemoteChange(const events::RemoteChange& change) {
  switch (change.kind) {
    case events::RemoteChange::Kind::kPublished:
      if (change.dataset.empty()) {
        RefreshStreams();
      } else {
        WakeDataset(change.dataset);
      }
      return;
    case events::RemoteChange::Kind::kAcknowledged:
      if (std::shared_ptr<SubscriptionStream> stream =
              FindStream(change.subscriber, change.dataset);
          stream != nullptr) {
        stream->Acknowledged(change.sequence);
      }
      return;
    case events::RemoteChange::Kind::kSubscribed:
      if (std::shared_ptr<SubscriptionStream> stream =
              FindStream(change.subscriber, change.dataset);
          stream != nullptr) {
        stream->Supersede();
      }
      return;
  }
}

void EventsService::RefreshStreams() {
  for (const std::shared_ptr<SubscriptionStream>& stream : OpenStreams()) {
    absl::StatusOr<std::optional<v1::Subscription>> stored =
        store_->LookupSubscription(stream->subscriber(), stream->dataset());
    if (stored.ok() && stored->has_value()) {
      stream->Acknowledged((*stored)->acknowledged_sequence());
    } else {
      stream->Wake();
    }
  }
}

void EventsService::Maintain() {
  uint64_t revision = registry_->snapshot()->revision();
  absl::Time next_expiry = clock_->Now() + options_.expiry_interval;
  // Real time, unlike the expiry's: it paces the looks at a store that others change.
  absl::Time next_refresh = absl::Now() + options_.shared_store_poll_interval;
  while (!stopping_.WaitForNotificationWithTimeout(options_.registry_poll_interval)) {
    if (store_->shared() && absl::Now() >= next_refresh) {
      RefreshStreams();
      next_refresh = absl::Now() + options_.shared_store_poll_interval;
    }
    bool wake = false;
    uint64_t current = registry_->snapshot()->revision();
    if (current != revision) {
      revision = current;
      wake = true;
    }
    if (clock_->Now() >= next_expiry) {
      RemoveExpired();
      next_expiry = clock_->Now() + options_.expiry_interval;
      // Grants also end by expiring, which changes no revision.
      wake = true;
    }
    if (wake) WakeAll();
  }
}

}  // namespace ndx::gateway
