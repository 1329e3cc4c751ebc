#include "events/jetstream_event_store.h"

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/hash.h"

namespace ndx::events {
namespace {

constexpr char kMsgIdHeader[] = "Nats-Msg-Id";
constexpr char kOriginHeader[] = "Ndx-Origin";
// How often a compare-and-set that lost to another replica is tried again before giving up.
constexpr int kCasAttempts = 32;

struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
struct StreamInfoDeleter {
  void operator()(jsStreamInfo* s) const { jsStreamInfo_Destroy(s); }
};
struct StreamInfoListDeleter {
  void operator()(jsStreamInfoList* s) const { jsStreamInfoList_Destroy(s); }
};
struct PubAckDeleter {
  void operator()(jsPubAck* a) const { jsPubAck_Destroy(a); }
};
struct EntryDeleter {
  void operator()(kvEntry* e) const { kvEntry_Destroy(e); }
};
struct WatcherDeleter {
  void operator()(kvWatcher* w) const { kvWatcher_Destroy(w); }
};
using MsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;
using StreamInfoPtr = std::unique_ptr<jsStreamInfo, StreamInfoDeleter>;
using StreamInfoListPtr = std::unique_ptr<jsStreamInfoList, StreamInfoListDeleter>;
using PubAckPtr = std::unique_ptr<jsPubAck, PubAckDeleter>;
using EntryPtr = std::unique_ptr<kvEntry, EntryDeleter>;
using WatcherPtr = std::unique_ptr<kvWatcher, WatcherDeleter>;

// The ids of datasets and nodes in names and subjects: hex of a hash, since ids hold '/' and
// names and subject tokens may not.
std::string IdHash(absl::string_view id) {
  return crypto::ToHex(crypto::Sha256({"ndx event store id", id})).substr(0, 32);
}

bool Transient(natsStatus s, jsErrCode error) {
  return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_CLOSED ||
         s == NATS_CONNECTION_DISCONNECTED || s == NATS_IO_ERROR || s == NATS_NO_SERVER ||
         s == NATS_STALE_CONNECTION || error == JSClusterNotAvailErr;
}

// The status of a failed NATS call. The library's texts name subjects and streams, which hold
// hashes only.
absl::Status NatsError(natsStatus s, jsErrCode error, absl::string_view what) {
  const char* last = nats_GetLastError(nullptr);
  std::string message = absl::StrCat(
      "JetStream event store: ", what, ": ", natsStatus_GetText(s),
      error != 0 ? absl::StrCat(" (JetStream error ", static_cast<int>(error), ")") : "",
      last != nullptr && *last != '\0' ? absl::StrCat(": ", last) : "");
  if (Transient(s, error)) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

absl::Status ValidatePrefix(absl::string_view prefix) {
  if (prefix.empty() || prefix.size() > 32) {
    return absl::InvalidArgumentError("events prefix must have 1-32 characters");
  }
  for (char c : prefix) {
    if (!absl::ascii_isalnum(c) && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("events prefix \"", prefix, "\" may hold only letters, digits and '-'"));
    }
  }
  return absl::OkStatus();
}

class JetStreamEventStore final : public EventBackend {
 public:
  JetStreamEventStore(const JetStreamEventStoreOptions& options, crypto::Sealer sealer)
      : options_(options),
        sealer_(std::move(sealer)),
        stream_prefix_(absl::StrCat(absl::AsciiStrToUpper(options.prefix), "_EV_")),
        subject_prefix_(absl::StrCat(options.prefix, ".events.")),
        notify_prefix_(absl::StrCat(options.prefix, ".notify.")),
        timeout_ms_(absl::ToInt64Milliseconds(options.request_timeout)) {
    absl::BitGen bits;
    origin_ = absl::StrCat(absl::Hex(absl::Uniform<uint64_t>(bits), absl::kZeroPad16));
  }

  ~JetStreamEventStore() override {
    // Subscriptions first, so that no callback runs while the rest goes away.
    if (events_sub_ != nullptr) natsSubscription_Destroy(events_sub_);
    if (notify_sub_ != nullptr) natsSubscription_Destroy(notify_sub_);
    if (kv_ != nullptr) kvStore_Destroy(kv_);
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (connection_ != nullptr) {
      natsConnection_Close(connection_);
      natsConnection_Destroy(connection_);
    }
    if (nats_options_ != nullptr) natsOptions_Destroy(nats_options_);
  }

  absl::Status Connect() {
    std::vector<const char*> servers;
    for (const std::string& url : options_.urls) servers.push_back(url.c_str());
    natsStatus s = natsOptions_Create(&nats_options_);
    if (s == NATS_OK) {
      s = natsOptions_SetServers(nats_options_, servers.data(), static_cast<int>(servers.size()));
    }
    if (s == NATS_OK) s = natsOptions_SetSecure(nats_options_, true);
    if (s == NATS_OK) {
      s = natsOptions_LoadCATrustedCertificates(nats_options_, options_.ca_file.c_str());
    }
    if (s == NATS_OK) {
      s = natsOptions_LoadCertificatesChain(nats_options_, options_.cert_file.c_str(),
                                            options_.key_file.c_str());
    }
    if (s != NATS_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load the NATS client's TLS files (", options_.cert_file, ", ",
                       options_.key_file, ", ", options_.ca_file, "): ", natsStatus_GetText(s)));
    }
    s = natsOptions_SetTimeout(nats_options_, timeout_ms_);
    // A replica outlives any server: it reconnects to another one for as long as it runs.
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(nats_options_, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(nats_options_, 250);
    if (s == NATS_OK) {
      s = natsOptions_SetReconnectedCB(
          nats_options_,
          [](natsConnection*, void* self) {
            static_cast<JetStreamEventStore*>(self)->Notify(
                RemoteChange{.kind = RemoteChange::Kind::kPublished});
          },
          this);
    }
    if (s == NATS_OK) s = natsConnection_Connect(&connection_, nats_options_);
    if (s != NATS_OK) {
      // A server that refuses the client's certificate just closes the connection: the library
      // sees a protocol error, which is as much "not reachable with this identity" as a timeout.
      return absl::UnavailableError(
          absl::StrCat(NatsError(s, static_cast<jsErrCode>(0), "connecting to NATS").message(),
                       " (are the servers up, and is the client certificate issued by their CA?)"));
    }
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.Wait = timeout_ms_;
    s = natsConnection_JetStream(&js_, connection_, &js_options);
    if (s != NATS_OK) return NatsError(s, static_cast<jsErrCode>(0), "opening JetStream");
    NDX_RETURN_IF_ERROR(OpenBucket());
    s = natsConnection_Subscribe(&events_sub_, connection_,
                                 absl::StrCat(subject_prefix_, "*").c_str(), &OnEventMessage, this);
    if (s == NATS_OK) {
      s = natsConnection_Subscribe(&notify_sub_, connection_,
                                   absl::StrCat(notify_prefix_, "*").c_str(), &OnNotice, this);
    }
    if (s == NATS_OK) s = natsConnection_Flush(connection_);
    if (s != NATS_OK) return NatsError(s, static_cast<jsErrCode>(0), "subscribing to notices");
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Event> Append(v1::Event event) override {
    const std::string dataset = event.dataset();
    NDX_RETURN_IF_ERROR(EnsureStream(dataset));
    absl::BitGen bits;
    const std::string msg_id =
        absl::StrCat(absl::Hex(absl::Uniform<uint64_t>(bits), absl::kZeroPad16),
                     absl::Hex(absl::Uniform<uint64_t>(bits), absl::kZeroPad16));
    v1::Event stored = event;
    stored.clear_dataset();
    stored.clear_sequence();
    stored.set_key(absl::WebSafeBase64Escape(sealer_.Seal(event.key(), Binding(dataset, msg_id))));
    const std::string payload = stored.SerializeAsString();
    const std::string subject = Subject(dataset);
    const std::string stream = StreamName(dataset);

    jsPubOptions publish;
    jsPubOptions_Init(&publish);
    publish.MaxWait = timeout_ms_;
    publish.MsgId = msg_id.c_str();
    publish.ExpectStream = stream.c_str();
    const absl::Time give_up = absl::Now() + options_.publish_retry;
    absl::Status last;
    // Until JetStream acknowledges: a publication retried with the same message id is stored
    // once, so a retry after a lost acknowledgement adds no event.
    do {
      jsPubAck* raw_ack = nullptr;
      jsErrCode error = static_cast<jsErrCode>(0);
      natsStatus s = js_Publish(&raw_ack, js_, subject.c_str(), payload.data(),
                                static_cast<int>(payload.size()), &publish, &error);
      PubAckPtr ack(raw_ack);
      if (s == NATS_OK) {
        event.set_sequence(ack->Sequence);
        return event;
      }
      last = NatsError(s, error, absl::StrCat("publishing an event of ", dataset));
      if (!Transient(s, error)) return last;
      absl::SleepFor(absl::Milliseconds(200));
    } while (absl::Now() < give_up);
    return last;
  }

  absl::StatusOr<std::vector<v1::Event>> Read(absl::string_view dataset, uint64_t from,
                                              size_t limit) const override {
    std::vector<v1::Event> events;
    NDX_ASSIGN_OR_RETURN(std::optional<StreamState> state, State(dataset));
    if (!state.has_value()) return events;
    const std::string stream = StreamName(dataset);
    // Only a prefix of a stream is ever removed (purges and max_age), so a message missing here
    // was removed since State and those after it are still there.
    for (uint64_t sequence = std::max(from, state->first);
         sequence <= state->last && events.size() < limit; ++sequence) {
      natsMsg* raw = nullptr;
      jsErrCode error = static_cast<jsErrCode>(0);
      natsStatus s = js_GetMsg(&raw, js_, stream.c_str(), sequence, nullptr, &error);
      MsgPtr message(raw);
      if (s == NATS_NOT_FOUND || error == JSNoMessageFoundErr) continue;
      if (s != NATS_OK) {
        return NatsError(s, error, absl::StrCat("reading event ", dataset, " #", sequence));
      }
      NDX_ASSIGN_OR_RETURN(v1::Event event, Decode(dataset, sequence, message.get()));
      events.push_back(std::move(event));
    }
    return events;
  }

  absl::StatusOr<uint64_t> ReadHead(absl::string_view dataset) const override {
    NDX_ASSIGN_OR_RETURN(std::optional<StreamState> state, State(dataset));
    return state.has_value() ? state->last : 0;
  }

  absl::StatusOr<std::optional<v1::Subscription>> LookupSubscription(
      absl::string_view subscriber, absl::string_view dataset) const override {
    Remember(dataset);
    NDX_ASSIGN_OR_RETURN(std::optional<Entry> entry, Get(SubscriptionKey(dataset, subscriber)));
    if (!entry.has_value()) return std::nullopt;
    return std::move(entry->subscription);
  }

  absl::StatusOr<std::vector<v1::Subscription>> ListSubscriptions(
      absl::string_view dataset) const override {
    NDX_ASSIGN_OR_RETURN(
        std::vector<Entry> entries,
        Watch(dataset.empty() ? "s.>" : absl::StrCat("s.", IdHash(dataset), ".*")));
    std::vector<v1::Subscription> subscriptions;
    for (Entry& entry : entries) subscriptions.push_back(std::move(entry.subscription));
    std::sort(subscriptions.begin(), subscriptions.end(),
              [](const v1::Subscription& a, const v1::Subscription& b) {
                return std::tie(a.dataset(), a.subscriber()) <
                       std::tie(b.dataset(), b.subscriber());
              });
    return subscriptions;
  }

  absl::StatusOr<size_t> CountSubscriptions(absl::string_view dataset) const override {
    NDX_ASSIGN_OR_RETURN(std::vector<Entry> entries,
                         Watch(absl::StrCat("s.", IdHash(dataset), ".*")));
    return entries.size();
  }

  absl::StatusOr<v1::Subscription> OpenSubscription(v1::Subscription subscription, bool at_head,
                                                    AdmitNew admit) override {
    const std::string& dataset = subscription.dataset();
    Remember(dataset);
    NDX_RETURN_IF_ERROR(EnsureStream(dataset));
    const std::string key = SubscriptionKey(dataset, subscription.subscriber());
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
      NDX_ASSIGN_OR_RETURN(std::optional<Entry> existing, Get(key));
      if (!existing.has_value()) {
        NDX_ASSIGN_OR_RETURN(std::vector<Entry> held,
                             Watch(absl::StrCat("s.*.", IdHash(subscription.subscriber()))));
        NDX_RETURN_IF_ERROR(admit(held.size()));
      }
      NDX_ASSIGN_OR_RETURN(uint64_t head, ReadHead(dataset));
      if (at_head) subscription.set_acknowledged_sequence(head);
      if (subscription.acknowledged_sequence() > head) {
        return absl::InvalidArgumentError(
            absl::StrCat("subscription position ", subscription.acknowledged_sequence(),
                         " is beyond the head ", head, " of dataset ", dataset));
      }
      NDX_ASSIGN_OR_RETURN(bool stored, Put(key, subscription,
                                            existing.has_value() ? std::optional(existing->revision)
                                                                 : std::nullopt));
      if (stored) return subscription;
    }
    return Contended(key);
  }

  absl::StatusOr<uint64_t> Acknowledge(absl::string_view subscriber, absl::string_view dataset,
                                       uint64_t sequence) override {
    Remember(dataset);
    const std::string key = SubscriptionKey(dataset, subscriber);
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
      NDX_ASSIGN_OR_RETURN(std::optional<Entry> entry, Get(key));
      if (!entry.has_value()) {
        return absl::NotFoundError(absl::StrCat("node ", subscriber, " has no subscription to ",
                                                dataset, "; open one with Subscribe"));
      }
      const uint64_t position = entry->subscription.acknowledged_sequence();
      if (sequence <= position) return position;
      NDX_ASSIGN_OR_RETURN(uint64_t head, ReadHead(dataset));
      if (sequence > head) {
        return absl::InvalidArgumentError(absl::StrCat(
            "event ", dataset, " #", sequence, " was never published; the latest is #", head));
      }
      entry->subscription.set_acknowledged_sequence(sequence);
      NDX_ASSIGN_OR_RETURN(bool stored, Put(key, entry->subscription, entry->revision));
      if (stored) {
        Announce("ack", entry->subscription);
        return sequence;
      }
    }
    return Contended(key);
  }

  absl::StatusOr<uint64_t> TrimAcknowledged(absl::string_view dataset) override {
    // The head is read before the subscriptions: a subscription created after that read starts
    // at or beyond it, and nothing beyond it is purged.
    NDX_ASSIGN_OR_RETURN(std::optional<StreamState> state, State(dataset));
    if (!state.has_value()) return 0;
    NDX_ASSIGN_OR_RETURN(std::vector<v1::Subscription> subscriptions, ListSubscriptions(dataset));
    uint64_t lowest = state->last;
    for (const v1::Subscription& s : subscriptions) {
      lowest = std::min(lowest, s.acknowledged_sequence());
    }
    return PurgeThrough(dataset, *state, lowest);
  }

  absl::StatusOr<SweepResult> Sweep(absl::FunctionRef<bool(const v1::Subscription&)> keep,
                                    absl::Time expire_before) override {
    SweepResult result;
    // Every stream of this store, with its dataset (the stream's description) and state; read
    // before the subscriptions, as in TrimAcknowledged.
    jsStreamInfoList* raw_list = nullptr;
    jsErrCode error = static_cast<jsErrCode>(0);
    natsStatus s = js_Streams(&raw_list, js_, nullptr, &error);
    StreamInfoListPtr list(raw_list);
    if (s != NATS_OK && s != NATS_NOT_FOUND) return NatsError(s, error, "listing the streams");
    std::map<std::string, StreamState> streams;
    for (int i = 0; list != nullptr && i < list->Count; ++i) {
      const jsStreamInfo* info = list->List[i];
      if (info->Config == nullptr || info->Config->Name == nullptr ||
          info->Config->Description == nullptr ||
          !absl::StartsWith(info->Config->Name, stream_prefix_)) {
        continue;
      }
      streams[info->Config->Description] = {info->State.FirstSeq, info->State.LastSeq};
    }

    NDX_ASSIGN_OR_RETURN(std::vector<Entry> entries, Watch("s.>"));
    std::map<std::string, std::vector<Entry>> by_dataset;
    for (Entry& entry : entries) {
      if (keep(entry.subscription)) {
        by_dataset[entry.subscription.dataset()].push_back(std::move(entry));
        continue;
      }
      std::string key =
          SubscriptionKey(entry.subscription.dataset(), entry.subscription.subscriber());
      natsStatus deleted = kvStore_Delete(kv_, key.c_str());
      if (deleted != NATS_OK) {
        return NatsError(deleted, static_cast<jsErrCode>(0), "deleting a subscription");
      }
      result.deleted_subscriptions.push_back(std::move(entry.subscription));
    }
    std::sort(result.deleted_subscriptions.begin(), result.deleted_subscriptions.end(),
              [](const v1::Subscription& a, const v1::Subscription& b) {
                return std::tie(a.dataset(), a.subscriber()) <
                       std::tie(b.dataset(), b.subscriber());
              });

    for (auto& [dataset, state] : streams) {
      std::vector<Entry>& subscriptions = by_dataset[dataset];
      std::sort(subscriptions.begin(), subscriptions.end(), [](const Entry& a, const Entry& b) {
        return a.subscription.subscriber() < b.subscription.subscriber();
      });
      uint64_t lowest = state.last;
      for (const Entry& entry : subscriptions) {
        lowest = std::min(lowest, entry.subscription.acknowledged_sequence());
      }
      NDX_ASSIGN_OR_RETURN(uint64_t trimmed, PurgeThrough(dataset, state, lowest));
      result.acknowledged_events += trimmed;
      state.first = std::max(state.first, lowest + 1);

      // Events are stored in publication order, so the expired ones are a prefix.
      uint64_t last_expired = 0;
      for (uint64_t sequence = state.first; sequence <= state.last; ++sequence) {
        NDX_ASSIGN_OR_RETURN(std::optional<v1::Event> event, Peek(dataset, sequence));
        if (!event.has_value()) continue;
        if (FromProtoTime(event->published_at()) >= expire_before) break;
        last_expired = sequence;
      }
      if (last_expired == 0) continue;

      NDX_ASSIGN_OR_RETURN(std::optional<uint64_t> counted_from,
                           ClaimExpiry(dataset, state.first, last_expired));
      if (counted_from.has_value()) {
        for (Entry& entry : subscriptions) {
          NDX_ASSIGN_OR_RETURN(std::optional<ExpiredEvents> expired,
                               CountExpired(entry.subscription, *counted_from, last_expired));
          if (expired.has_value()) result.expired.push_back(*std::move(expired));
        }
      }
      NDX_ASSIGN_OR_RETURN(uint64_t removed, PurgeThrough(dataset, state, last_expired));
      result.expired_event_count += removed;
    }
    return result;
  }

  bool shared() const override { return true; }

  void SetChangeListener(ChangeListener listener) override {
    absl::MutexLock lock(&listener_mutex_);
    listener_ = std::move(listener);
  }

  void AnnounceStream(absl::string_view subscriber, absl::string_view dataset) override {
    v1::Subscription subscription;
    subscription.set_subscriber(std::string(subscriber));
    subscription.set_dataset(std::string(dataset));
    Announce("stream", subscription);
  }

 private:
  struct StreamState {
    uint64_t first = 1;
    uint64_t last = 0;
  };
  // A subscription as stored, with the revision a compare-and-set needs.
  struct Entry {
    v1::Subscription subscription;
    uint64_t revision = 0;
  };

  std::string StreamName(absl::string_view dataset) const {
    return absl::StrCat(stream_prefix_, IdHash(dataset));
  }
  std::string Subject(absl::string_view dataset) const {
    return absl::StrCat(subject_prefix_, IdHash(dataset));
  }
  static std::string SubscriptionKey(absl::string_view dataset, absl::string_view subscriber) {
    return absl::StrCat("s.", IdHash(dataset), ".", IdHash(subscriber));
  }
  static std::string ExpiryKey(absl::string_view dataset) {
    return absl::StrCat("x.", IdHash(dataset));
  }
  // What a sealed key is bound to: its dataset and its message, so that it opens nowhere else.
  static std::string Binding(absl::string_view dataset, absl::string_view msg_id) {
    return absl::StrCat(dataset, absl::string_view("\0", 1), msg_id);
  }

  static absl::Status Contended(absl::string_view key) {
    return absl::UnavailableError(
        absl::StrCat("JetStream event store: subscription entry ", key,
                     " kept changing under concurrent updates; try again"));
  }

  // Notes a dataset id, so that a publication (whose subject holds its hash) can be told to the
  // listener by id.
  void Remember(absl::string_view dataset) const {
    std::string hash = IdHash(dataset);
    absl::MutexLock lock(&datasets_mutex_);
    datasets_.try_emplace(hash, dataset);
  }

  absl::Status OpenBucket() {
    const std::string bucket = absl::StrCat(options_.prefix, "_subscriptions");
    natsStatus s = js_KeyValue(&kv_, js_, bucket.c_str());
    if (s == NATS_OK) return absl::OkStatus();
    kvConfig config;
    kvConfig_Init(&config);
    config.Bucket = bucket.c_str();
    config.History = 1;
    config.StorageType = js_FileStorage;
    config.Replicas = options_.stream_replicas;
    s = js_CreateKeyValue(&kv_, js_, &config);
    // Another replica may have created it meanwhile.
    if (s != NATS_OK) s = js_KeyValue(&kv_, js_, bucket.c_str());
    if (s != NATS_OK) {
      return NatsError(s, static_cast<jsErrCode>(0),
                       absl::StrCat("opening the key-value bucket ", bucket));
    }
    return absl::OkStatus();
  }

  absl::Status EnsureStream(absl::string_view dataset) {
    Remember(dataset);
    const std::string name = StreamName(dataset);
    {
      absl::MutexLock lock(&datasets_mutex_);
      if (streams_.contains(name)) return absl::OkStatus();
    }
    const std::string subject = Subject(dataset);
    const std::string description(dataset);
    const char* subjects[] = {subject.c_str()};
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = name.c_str();
    config.Description = description.c_str();
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Retention = js_LimitsPolicy;
    config.Storage = js_FileStorage;
    config.Replicas = options_.stream_replicas;
    config.MaxAge = absl::ToInt64Nanoseconds(2 * options_.retention);
    config.Duplicates = absl::ToInt64Nanoseconds(absl::Minutes(2));
    config.DenyDelete = true;
    jsStreamInfo* raw = nullptr;
    jsErrCode error = static_cast<jsErrCode>(0);
    natsStatus s = js_AddStream(&raw, js_, &config, nullptr, &error);
    StreamInfoPtr info(raw);
    if (s != NATS_OK && error == JSStreamNameExistErr) {
      // Created by another replica, or by a gateway with other settings (retention, replicas):
      // those of the latest gateway to start apply.
      jsStreamInfo* updated = nullptr;
      s = js_UpdateStream(&updated, js_, &config, nullptr, &error);
      StreamInfoPtr updated_info(updated);
      if (s != NATS_OK) {
        spdlog::warn("events: stream {} of {} keeps its settings: {}", name, description,
                     NatsError(s, error, "updating").ToString());
        s = NATS_OK;
      }
    }
    if (s != NATS_OK) {
      return NatsError(s, error, absl::StrCat("creating the stream of ", dataset));
    }
    absl::MutexLock lock(&datasets_mutex_);
    streams_.insert(name);
    return absl::OkStatus();
  }

  // The stream's first and last sequences; nullopt when the dataset has no stream yet.
  absl::StatusOr<std::optional<StreamState>> State(absl::string_view dataset) const {
    Remember(dataset);
    jsStreamInfo* raw = nullptr;
    jsErrCode error = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&raw, js_, StreamName(dataset).c_str(), nullptr, &error);
    StreamInfoPtr info(raw);
    if (s == NATS_NOT_FOUND || error == JSStreamNotFoundErr) return std::nullopt;
    if (s != NATS_OK) return NatsError(s, error, absl::StrCat("reading the head of ", dataset));
    // An empty stream reports first = last + 1 (or 0 when it never held a message).
    return StreamState{std::max<uint64_t>(info->State.FirstSeq, 1), info->State.LastSeq};
  }

  // Removes the events of `dataset` through `through`; how many there were.
  absl::StatusOr<uint64_t> PurgeThrough(absl::string_view dataset, const StreamState& state,
                                        uint64_t through) {
    if (through < state.first) return 0;
    jsOptions purge;
    jsOptions_Init(&purge);
    purge.Wait = timeout_ms_;
    purge.Stream.Purge.Sequence = through + 1;  // up to, not including
    jsErrCode error = static_cast<jsErrCode>(0);
    natsStatus s = js_PurgeStream(js_, StreamName(dataset).c_str(), &purge, &error);
    if (s != NATS_OK) return NatsError(s, error, absl::StrCat("removing events of ", dataset));
    return through - state.first + 1;
  }

  absl::StatusOr<v1::Event> Decode(absl::string_view dataset, uint64_t sequence,
                                   natsMsg* message) const {
    v1::Event event;
    if (!event.ParseFromArray(natsMsg_GetData(message), natsMsg_GetDataLength(message))) {
      return absl::DataLossError(
          absl::StrCat("JetStream event store: event ", dataset, " #", sequence, " is unreadable"));
    }
    const char* msg_id = nullptr;
    std::string sealed;
    absl::StatusOr<std::string> key =
        natsMsgHeader_Get(message, kMsgIdHeader, &msg_id) == NATS_OK &&
                absl::WebSafeBase64Unescape(event.key(), &sealed)
            ? sealer_.Open(sealed, Binding(dataset, msg_id))
            : absl::InvalidArgumentError("no message id or not base64");
    if (!key.ok()) {
      return absl::DataLossError(absl::StrCat(
          "JetStream event store: the key of event ", dataset, " #", sequence,
          " does not open with the gateway's sealing key (do all replicas have the same key "
          "file?)"));
    }
    event.set_key(*std::move(key));
    event.set_dataset(std::string(dataset));
    event.set_sequence(sequence);
    return event;
  }

  // The event at `sequence` with its key still sealed (only its time is looked at); nullopt
  // when it was removed.
  absl::StatusOr<std::optional<v1::Event>> Peek(absl::string_view dataset,
                                                uint64_t sequence) const {
    natsMsg* raw = nullptr;
    jsErrCode error = static_cast<jsErrCode>(0);
    natsStatus s = js_GetMsg(&raw, js_, StreamName(dataset).c_str(), sequence, nullptr, &error);
    MsgPtr message(raw);
    if (s == NATS_NOT_FOUND || error == JSNoMessageFoundErr) return std::nullopt;
    if (s != NATS_OK) {
      return NatsError(s, error, absl::StrCat("reading event ", dataset, " #", sequence));
    }
    v1::Event event;
    if (!event.ParseFromArray(natsMsg_GetData(message.get()),
                              natsMsg_GetDataLength(message.get()))) {
      return absl::DataLossError(
          absl::StrCat("JetStream event store: event ", dataset, " #", sequence, " is unreadable"));
    }
    return event;
  }

  // Claims the counting of the expiry of events [.., last_expired] of `dataset`: the first
  // sequence this sweep counts, or nullopt when another sweep counted them (or is counting).
  absl::StatusOr<std::optional<uint64_t>> ClaimExpiry(absl::string_view dataset, uint64_t first,
                                                      uint64_t last_expired) {
    const std::string key = ExpiryKey(dataset);
    kvEntry* raw = nullptr;
    natsStatus s = kvStore_Get(&raw, kv_, key.c_str());
    EntryPtr entry(raw);
    uint64_t counted = 0;
    if (s == NATS_OK) {
      std::string value(static_cast<const char*>(kvEntry_Value(entry.get())),
                        kvEntry_ValueLen(entry.get()));
      if (!absl::SimpleAtoi(value, &counted)) {
        return absl::DataLossError(
            absl::StrCat("JetStream event store: entry ", key, " is not a sequence"));
      }
    } else if (s != NATS_NOT_FOUND) {
      return NatsError(s, static_cast<jsErrCode>(0), "reading the expiry mark");
    }
    if (counted >= last_expired) return std::nullopt;
    const std::string value = absl::StrCat(last_expired);
    uint64_t revision = 0;
    s = entry != nullptr
            ? kvStore_Update(&revision, kv_, key.c_str(), value.data(),
                             static_cast<int>(value.size()), kvEntry_Revision(entry.get()))
            : kvStore_Create(&revision, kv_, key.c_str(), value.data(),
                             static_cast<int>(value.size()));
    if (s == NATS_OK) return std::max(first, counted + 1);
    // Another replica moved the mark first: it counts these events.
    if (s == NATS_ERR) return std::nullopt;
    return NatsError(s, static_cast<jsErrCode>(0), "moving the expiry mark");
  }

  // Adds the events [first, last_expired] that `subscription` had not acknowledged to its
  // expired_events.
  absl::StatusOr<std::optional<ExpiredEvents>> CountExpired(v1::Subscription subscription,
                                                            uint64_t first, uint64_t last_expired) {
    const std::string key = SubscriptionKey(subscription.dataset(), subscription.subscriber());
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
      NDX_ASSIGN_OR_RETURN(std::optional<Entry> entry, Get(key));
      if (!entry.has_value()) return std::nullopt;
      v1::Subscription& stored = entry->subscription;
      uint64_t from = std::max(first, stored.acknowledged_sequence() + 1);
      if (from > last_expired) return std::nullopt;
      stored.set_expired_events(stored.expired_events() + (last_expired - from + 1));
      NDX_ASSIGN_OR_RETURN(bool updated, Put(key, stored, entry->revision));
      if (updated) {
        return ExpiredEvents{stored.subscriber(), stored.dataset(), from, last_expired};
      }
    }
    return Contended(key);
  }

  absl::StatusOr<std::optional<Entry>> Get(const std::string& key) const {
    kvEntry* raw = nullptr;
    natsStatus s = kvStore_Get(&raw, kv_, key.c_str());
    EntryPtr entry(raw);
    if (s == NATS_NOT_FOUND) return std::nullopt;
    if (s != NATS_OK) return NatsError(s, static_cast<jsErrCode>(0), "reading a subscription");
    return Parse(entry.get());
  }

  static absl::StatusOr<Entry> Parse(kvEntry* entry) {
    Entry parsed;
    parsed.revision = kvEntry_Revision(entry);
    if (!parsed.subscription.ParseFromArray(kvEntry_Value(entry), kvEntry_ValueLen(entry))) {
      return absl::DataLossError(absl::StrCat("JetStream event store: subscription entry ",
                                              kvEntry_Key(entry), " is unreadable"));
    }
    return parsed;
  }

  // Stores `subscription` under `key`, as a new entry without `revision`, or in place of the
  // entry at `revision`. False when the entry was changed (or created) meanwhile.
  absl::StatusOr<bool> Put(const std::string& key, const v1::Subscription& subscription,
                           std::optional<uint64_t> revision) {
    const std::string value = subscription.SerializeAsString();
    uint64_t stored = 0;
    natsStatus s = revision.has_value() ? kvStore_Update(&stored, kv_, key.c_str(), value.data(),
                                                         static_cast<int>(value.size()), *revision)
                                        : kvStore_Create(&stored, kv_, key.c_str(), value.data(),
                                                         static_cast<int>(value.size()));
    if (s == NATS_OK) return true;
    // libnats reports a failed compare-and-set as NATS_ERR with JetStream's "wrong last
    // sequence" (an update) or "key exists" (a create) in its last error.
    if (s == NATS_ERR) return false;
    return NatsError(s, static_cast<jsErrCode>(0), "storing a subscription");
  }

  // The current entries whose keys match `filter`.
  absl::StatusOr<std::vector<Entry>> Watch(const std::string& filter) const {
    kvWatchOptions watch;
    kvWatchOptions_Init(&watch);
    watch.IgnoreDeletes = true;
    watch.Timeout = timeout_ms_;
    kvWatcher* raw = nullptr;
    natsStatus s = kvStore_Watch(&raw, kv_, filter.c_str(), &watch);
    WatcherPtr watcher(raw);
    if (s != NATS_OK) return NatsError(s, static_cast<jsErrCode>(0), "listing subscriptions");
    std::vector<Entry> entries;
    while (true) {
      kvEntry* next = nullptr;
      s = kvWatcher_Next(&next, watcher.get(), timeout_ms_);
      EntryPtr entry(next);
      if (s != NATS_OK) return NatsError(s, static_cast<jsErrCode>(0), "listing subscriptions");
      // A null entry marks the end of the current values.
      if (entry == nullptr) break;
      if (kvEntry_Operation(entry.get()) != kvOp_Put) continue;
      NDX_ASSIGN_OR_RETURN(Entry parsed, Parse(entry.get()));
      entries.push_back(std::move(parsed));
    }
    return entries;
  }

  // Tells the other replicas about `subscription` (best effort: a lost notice is made up for by
  // the gateways' periodic looks).
  void Announce(absl::string_view kind, const v1::Subscription& subscription) {
    natsMsg* raw = nullptr;
    const std::string payload = subscription.SerializeAsString();
    natsStatus s = natsMsg_Create(&raw, absl::StrCat(notify_prefix_, kind).c_str(), nullptr,
                                  payload.data(), static_cast<int>(payload.size()));
    MsgPtr message(raw);
    if (s == NATS_OK) s = natsMsgHeader_Set(message.get(), kOriginHeader, origin_.c_str());
    if (s == NATS_OK) s = natsConnection_PublishMsg(connection_, message.get());
    if (s != NATS_OK) {
      spdlog::warn("events: could not tell the other replicas of a change to {} of {}: {}",
                   std::string(kind), subscription.dataset(), natsStatus_GetText(s));
    }
  }

  void Notify(const RemoteChange& change) {
    absl::MutexLock lock(&listener_mutex_);
    if (listener_) listener_(change);
  }

  static void OnEventMessage(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
    MsgPtr message(raw);
    auto* self = static_cast<JetStreamEventStore*>(closure);
    absl::string_view subject = natsMsg_GetSubject(message.get());
    if (!absl::ConsumePrefix(&subject, self->subject_prefix_)) return;
    std::string dataset;
    {
      absl::MutexLock lock(&self->datasets_mutex_);
      auto it = self->datasets_.find(subject);
      // A dataset this gateway never looked at has no stream here.
      if (it == self->datasets_.end()) return;
      dataset = it->second;
    }
    self->Notify(RemoteChange{.kind = RemoteChange::Kind::kPublished, .dataset = dataset});
  }

  static void OnNotice(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
    MsgPtr message(raw);
    auto* self = static_cast<JetStreamEventStore*>(closure);
    const char* origin = nullptr;
    if (natsMsgHeader_Get(message.get(), kOriginHeader, &origin) == NATS_OK &&
        self->origin_ == origin) {
      return;
    }
    v1::Subscription subscription;
    if (!subscription.ParseFromArray(natsMsg_GetData(message.get()),
                                     natsMsg_GetDataLength(message.get()))) {
      return;
    }
    absl::string_view subject = natsMsg_GetSubject(message.get());
    RemoteChange change{.dataset = subscription.dataset(),
                        .subscriber = subscription.subscriber(),
                        .sequence = subscription.acknowledged_sequence()};
    if (absl::EndsWith(subject, ".ack")) {
      change.kind = RemoteChange::Kind::kAcknowledged;
    } else if (absl::EndsWith(subject, ".stream")) {
      change.kind = RemoteChange::Kind::kSubscribed;
    } else {
      return;
    }
    self->Notify(change);
  }

  const JetStreamEventStoreOptions options_;
  const crypto::Sealer sealer_;
  const std::string stream_prefix_;
  const std::string subject_prefix_;
  const std::string notify_prefix_;
  const int64_t timeout_ms_;
  // Tells this store's notices from other replicas'.
  std::string origin_;

  natsOptions* nats_options_ = nullptr;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
  kvStore* kv_ = nullptr;
  natsSubscription* events_sub_ = nullptr;
  natsSubscription* notify_sub_ = nullptr;

  mutable absl::Mutex datasets_mutex_;
  // Dataset ids by hash, of the datasets this store was asked about.
  mutable absl::flat_hash_map<std::string, std::string> datasets_ ABSL_GUARDED_BY(datasets_mutex_);
  // Streams known to exist.
  absl::flat_hash_set<std::string> streams_ ABSL_GUARDED_BY(datasets_mutex_);

  absl::Mutex listener_mutex_;
  ChangeListener listener_ ABSL_GUARDED_BY(listener_mutex_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<EventBackend>> OpenJetStreamEventStore(
    const JetStreamEventStoreOptions& options) {
  if (options.urls.empty()) {
    return absl::InvalidArgumentError("cluster.nats.urls: give at least one NATS server URL");
  }
  for (const std::string& url : options.urls) {
    if (!absl::StartsWith(url, "tls://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("cluster.nats.urls: \"", url,
                       "\" must start with tls:// (NATS is reached over mTLS only)"));
    }
  }
  if (options.ca_file.empty() || options.cert_file.empty() || options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "cluster.nats.tls: ca_file, cert_file and key_file are required (mTLS to NATS)");
  }
  if (options.stream_replicas < 1 || options.stream_replicas > 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster.nats.stream_replicas is ", options.stream_replicas, "; give 1 to 5"));
  }
  if (options.retention <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the events' retention must be positive");
  }
  NDX_RETURN_IF_ERROR(ValidatePrefix(options.prefix));
  if (!options.key_sealer.has_value()) {
    return absl::InvalidArgumentError("the event store needs a key_sealer for the record keys");
  }
  auto store = std::make_unique<JetStreamEventStore>(options, *options.key_sealer);
  NDX_RETURN_IF_ERROR(store->Connect());
  return store;
}

}  // namespace ndx::events
