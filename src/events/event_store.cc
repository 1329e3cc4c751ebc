#include "events/event_store.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "storage/rocksdb_open.h"

namespace ndx::events {
namespace {

// Keys. Dataset and node ids never hold '\0', which ends the dataset part of a key so that one
// dataset's range never takes in another whose id it prefixes.
//   h/<dataset>                   -> head sequence, 8 bytes big-endian
//   f/<dataset>\0<sequence BE>    -> v1::Event, its key sealed (base64url of Sealer::Seal)
//   s/<dataset>\0<subscriber>     -> v1::Subscription
// Versions before sealing stored events under e/ with their key in the clear; Open seals them.
constexpr char kHeadPrefix[] = "h/";
constexpr char kEventPrefix[] = "f/";
constexpr char kClearEventPrefix[] = "e/";
constexpr char kSubscriptionPrefix[] = "s/";

// Big-endian, so that keys sort by sequence.
std::string BigEndian(uint64_t value) {
  std::string bytes(8, '\0');
  for (int i = 7; i >= 0; --i, value >>= 8) bytes[i] = static_cast<char>(value & 0xff);
  return bytes;
}

uint64_t ParseBigEndian(absl::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

std::string HeadKey(absl::string_view dataset) { return absl::StrCat(kHeadPrefix, dataset); }

std::string EventKeyPrefix(absl::string_view dataset) {
  return absl::StrCat(kEventPrefix, dataset, absl::string_view("\0", 1));
}

std::string EventKey(absl::string_view dataset, uint64_t sequence) {
  return absl::StrCat(EventKeyPrefix(dataset), BigEndian(sequence));
}

std::string SubscriptionKey(absl::string_view dataset, absl::string_view subscriber) {
  return absl::StrCat(kSubscriptionPrefix, dataset, absl::string_view("\0", 1), subscriber);
}

// What a sealed key is bound to: its event's place, so that it opens nowhere else.
std::string KeyBinding(absl::string_view dataset, uint64_t sequence) {
  return absl::StrCat(dataset, absl::string_view("\0", 1), BigEndian(sequence));
}

rocksdb::Slice ToSlice(absl::string_view s) { return {s.data(), s.size()}; }
absl::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what) {
  return absl::InternalError(absl::StrCat("event store: ", what, ": ", status.ToString()));
}

}  // namespace

EventStore::EventStore(std::unique_ptr<rocksdb::DB> db, bool sync, crypto::Sealer key_sealer)
    : db_(std::move(db)), sync_(sync), key_sealer_(std::move(key_sealer)) {}

EventStore::~EventStore() { db_->Close().PermitUncheckedError(); }

absl::StatusOr<std::unique_ptr<EventStore>> EventStore::Open(const EventStoreOptions& options) {
  if (!options.key_sealer.has_value()) {
    return absl::InvalidArgumentError("the event store needs a key_sealer for the record keys");
  }
  NDX_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db,
                       storage::Open(storage::DefaultOptions(), options.dir, "event store"));
  std::unique_ptr<EventStore> store(
      new EventStore(std::move(db), options.sync, *options.key_sealer));
  absl::MutexLock lock(&store->mutex_);
  NDX_RETURN_IF_ERROR(store->LoadLocked());
  return store;
}

std::string EventStore::SealKey(const v1::Event& event) const {
  // Base64, since a proto3 string must be UTF-8.
  return absl::WebSafeBase64Escape(
      key_sealer_.Seal(event.key(), KeyBinding(event.dataset(), event.sequence())));
}

absl::Status EventStore::SealClearEventsLocked() {
  rocksdb::WriteBatch batch;
  uint64_t count = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(kClearEventPrefix); it->Valid() && it->key().starts_with(kClearEventPrefix);
       it->Next()) {
    v1::Event event;
    if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("event store: event record ", View(it->key()), " is unreadable"));
    }
    event.set_key(SealKey(event));
    batch.Put(EventKey(event.dataset(), event.sequence()), event.SerializeAsString());
    batch.Delete(it->key());
    ++count;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading events to seal");
  if (count == 0) return absl::OkStatus();
  rocksdb::WriteOptions write;
  write.sync = true;
  rocksdb::Status status = db_->Write(write, &batch);
  if (!status.ok()) return FromRocks(status, "sealing the keys of stored events");
  // The deleted clear records stay in the WAL and table files until they are rewritten; rewrite
  // them now so that no identifier in clear outlives the migration on disk.
  status = db_->Flush(rocksdb::FlushOptions());
  if (status.ok()) {
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    status = db_->CompactRange(compact, nullptr, nullptr);
  }
  if (!status.ok()) return FromRocks(status, "rewriting the event store after sealing");
  spdlog::warn("event store: sealed the keys of {} events stored by an earlier version", count);
  return absl::OkStatus();
}

absl::Status EventStore::LoadLocked() {
  NDX_RETURN_IF_ERROR(SealClearEventsLocked());
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(kHeadPrefix); it->Valid() && it->key().starts_with(kHeadPrefix); it->Next()) {
    if (it->value().size() != 8) {
      return absl::DataLossError(absl::StrCat("event store: head record ", View(it->key()), " has ",
                                              it->value().size(), " bytes, not 8"));
    }
    std::string dataset(View(it->key()).substr(sizeof(kHeadPrefix) - 1));
    DatasetState& state = datasets_[dataset];
    state.head = ParseBigEndian(View(it->value()));
    state.first = state.head + 1;
  }
  for (it->Seek(kSubscriptionPrefix); it->Valid() && it->key().starts_with(kSubscriptionPrefix);
       it->Next()) {
    v1::Subscription subscription;
    if (!subscription.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("event store: subscription record ", View(it->key()), " is unreadable"));
    }
    DatasetState& state = datasets_[subscription.dataset()];
    state.subscriptions[subscription.subscriber()] = std::move(subscription);
  }
  for (auto& [dataset, state] : datasets_) {
    std::string prefix = EventKeyPrefix(dataset);
    it->Seek(prefix);
    if (it->Valid() && it->key().starts_with(ToSlice(prefix))) {
      state.first = ParseBigEndian(View(it->key()).substr(prefix.size()));
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "loading");
  return absl::OkStatus();
}

absl::StatusOr<v1::Event> EventStore::Append(v1::Event event) {
  absl::MutexLock lock(&mutex_);
  DatasetState& state = datasets_[event.dataset()];
  uint64_t sequence = state.head + 1;
  event.set_sequence(sequence);
  rocksdb::WriteBatch batch;
  batch.Put(HeadKey(event.dataset()), BigEndian(sequence));
  // Without a subscription nobody will ever acknowledge the event: only the sequence advances.
  if (!state.subscriptions.empty()) {
    v1::Event stored = event;
    stored.set_key(SealKey(event));
    batch.Put(EventKey(event.dataset(), sequence), stored.SerializeAsString());
  }
  rocksdb::WriteOptions write;
  write.sync = sync_;
  rocksdb::Status status = db_->Write(write, &batch);
  if (!status.ok()) return FromRocks(status, "appending an event");
  state.head = sequence;
  if (state.subscriptions.empty()) state.first = sequence + 1;
  return event;
}

absl::StatusOr<std::vector<v1::Event>> EventStore::Read(absl::string_view dataset, uint64_t from,
                                                        size_t limit) const {
  std::vector<v1::Event> events;
  std::string prefix = EventKeyPrefix(dataset);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(EventKey(dataset, from));
       events.size() < limit && it->Valid() && it->key().starts_with(ToSlice(prefix)); it->Next()) {
    v1::Event& event = events.emplace_back();
    uint64_t sequence = ParseBigEndian(View(it->key()).substr(prefix.size()));
    if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("event store: event ", dataset, " #", sequence, " is unreadable"));
    }
    std::string sealed;
    absl::StatusOr<std::string> key = absl::WebSafeBase64Unescape(event.key(), &sealed)
                                          ? key_sealer_.Open(sealed, KeyBinding(dataset, sequence))
                                          : absl::InvalidArgumentError("not base64");
    if (!key.ok()) {
      return absl::DataLossError(absl::StrCat(
          "event store: the key of event ", dataset, " #", sequence,
          " does not open with the gateway's sealing key (was the key file replaced?)"));
    }
    event.set_key(*std::move(key));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading events");
  return events;
}

uint64_t EventStore::Head(absl::string_view dataset) const {
  absl::MutexLock lock(&mutex_);
  auto it = datasets_.find(dataset);
  return it == datasets_.end() ? 0 : it->second.head;
}

std::optional<v1::Subscription> EventStore::FindSubscription(absl::string_view subscriber,
                                                             absl::string_view dataset) const {
  absl::MutexLock lock(&mutex_);
  auto it = datasets_.find(dataset);
  if (it == datasets_.end()) return std::nullopt;
  auto sub = it->second.subscriptions.find(subscriber);
  if (sub == it->second.subscriptions.end()) return std::nullopt;
  return sub->second;
}

std::vector<v1::Subscription> EventStore::Subscriptions(absl::string_view dataset) const {
  absl::MutexLock lock(&mutex_);
  std::vector<v1::Subscription> result;
  for (const auto& [id, state] : datasets_) {
    if (!dataset.empty() && id != dataset) continue;
    for (const auto& [subscriber, subscription] : state.subscriptions) {
      result.push_back(subscription);
    }
  }
  return result;
}

size_t EventStore::SubscriptionCount(absl::string_view dataset) const {
  absl::MutexLock lock(&mutex_);
  auto it = datasets_.find(dataset);
  return it == datasets_.end() ? 0 : it->second.subscriptions.size();
}

size_t EventStore::SubscriberSubscriptionCountLocked(absl::string_view subscriber) const {
  size_t count = 0;
  for (const auto& [id, state] : datasets_) count += state.subscriptions.count(subscriber);
  return count;
}

absl::StatusOr<v1::Subscription> EventStore::OpenSubscription(v1::Subscription subscription,
                                                              bool at_head, AdmitNew admit) {
  absl::MutexLock lock(&mutex_);
  auto existing = datasets_.find(subscription.dataset());
  if (existing == datasets_.end() ||
      !existing->second.subscriptions.contains(subscription.subscriber())) {
    NDX_RETURN_IF_ERROR(admit(SubscriberSubscriptionCountLocked(subscription.subscriber())));
  }
  DatasetState& state = datasets_[subscription.dataset()];
  if (at_head) subscription.set_acknowledged_sequence(state.head);
  if (subscription.acknowledged_sequence() > state.head) {
    return absl::InvalidArgumentError(
        absl::StrCat("subscription position ", subscription.acknowledged_sequence(),
                     " is beyond the head ", state.head, " of dataset ", subscription.dataset()));
  }
  rocksdb::WriteOptions write;
  write.sync = sync_;
  rocksdb::Status status =
      db_->Put(write, SubscriptionKey(subscription.dataset(), subscription.subscriber()),
               subscription.SerializeAsString());
  if (!status.ok()) return FromRocks(status, "storing a subscription");
  state.subscriptions[subscription.subscriber()] = subscription;
  return subscription;
}

absl::StatusOr<uint64_t> EventStore::Acknowledge(absl::string_view subscriber,
                                                 absl::string_view dataset, uint64_t sequence) {
  absl::MutexLock lock(&mutex_);
  auto state = datasets_.find(dataset);
  auto found = state == datasets_.end() ? decltype(state->second.subscriptions)::iterator()
                                        : state->second.subscriptions.find(subscriber);
  if (state == datasets_.end() || found == state->second.subscriptions.end()) {
    return absl::NotFoundError(absl::StrCat("node ", subscriber, " has no subscription to ",
                                            dataset, "; open one with Subscribe"));
  }
  if (sequence > state->second.head) {
    return absl::InvalidArgumentError(absl::StrCat("event ", dataset, " #", sequence,
                                                   " was never published; the latest is #",
                                                   state->second.head));
  }
  v1::Subscription& subscription = found->second;
  if (sequence <= subscription.acknowledged_sequence()) {
    return subscription.acknowledged_sequence();
  }
  v1::Subscription updated = subscription;
  updated.set_acknowledged_sequence(sequence);
  rocksdb::WriteOptions write;
  write.sync = sync_;
  rocksdb::Status status =
      db_->Put(write, SubscriptionKey(dataset, subscriber), updated.SerializeAsString());
  if (!status.ok()) return FromRocks(status, "storing an acknowledgement");
  subscription = std::move(updated);
  return sequence;
}

uint64_t EventStore::LowestPosition(const DatasetState& state) {
  uint64_t lowest = state.head;
  for (const auto& [subscriber, subscription] : state.subscriptions) {
    lowest = std::min(lowest, subscription.acknowledged_sequence());
  }
  return lowest;
}

absl::Status EventStore::RemoveThroughLocked(const std::string& dataset, DatasetState& state,
                                             uint64_t through) {
  if (through < state.first) return absl::OkStatus();
  rocksdb::WriteOptions write;
  write.sync = sync_;
  rocksdb::Status status =
      db_->DeleteRange(write, db_->DefaultColumnFamily(), EventKey(dataset, state.first),
                       EventKey(dataset, through + 1));
  if (!status.ok()) return FromRocks(status, "removing events");
  state.first = through + 1;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> EventStore::TrimAcknowledged(absl::string_view dataset) {
  absl::MutexLock lock(&mutex_);
  auto it = datasets_.find(dataset);
  if (it == datasets_.end()) return 0;
  DatasetState& state = it->second;
  uint64_t before = state.first;
  NDX_RETURN_IF_ERROR(RemoveThroughLocked(it->first, state, LowestPosition(state)));
  return state.first - before;
}

absl::StatusOr<SweepResult> EventStore::Sweep(absl::FunctionRef<bool(const v1::Subscription&)> keep,
                                              absl::Time expire_before) {
  absl::MutexLock lock(&mutex_);
  SweepResult result;
  rocksdb::WriteOptions write;
  write.sync = sync_;
  for (auto& [dataset, state] : datasets_) {
    for (auto it = state.subscriptions.begin(); it != state.subscriptions.end();) {
      if (keep(it->second)) {
        ++it;
        continue;
      }
      rocksdb::Status status = db_->Delete(write, SubscriptionKey(dataset, it->first));
      if (!status.ok()) return FromRocks(status, "deleting a subscription");
      result.deleted_subscriptions.push_back(it->second);
      it = state.subscriptions.erase(it);
    }

    uint64_t before = state.first;
    NDX_RETURN_IF_ERROR(RemoveThroughLocked(dataset, state, LowestPosition(state)));
    result.acknowledged_events += state.first - before;

    // Events are stored in publication order, so the expired ones are a prefix.
    uint64_t last_expired = 0;
    std::string prefix = EventKeyPrefix(dataset);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(EventKey(dataset, state.first));
         it->Valid() && it->key().starts_with(ToSlice(prefix)); it->Next()) {
      uint64_t sequence = ParseBigEndian(View(it->key()).substr(prefix.size()));
      v1::Event event;
      if (!event.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError(
            absl::StrCat("event store: event ", dataset, " #", sequence, " is unreadable"));
      }
      if (FromProtoTime(event.published_at()) >= expire_before) break;
      last_expired = sequence;
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading events to expire");
    if (last_expired == 0) continue;

    uint64_t first_expired = state.first;
    for (auto& [subscriber, subscription] : state.subscriptions) {
      uint64_t first = std::max(first_expired, subscription.acknowledged_sequence() + 1);
      if (first > last_expired) continue;
      v1::Subscription updated = subscription;
      updated.set_expired_events(updated.expired_events() + (last_expired - first + 1));
      rocksdb::Status status =
          db_->Put(write, SubscriptionKey(dataset, subscriber), updated.SerializeAsString());
      if (!status.ok()) return FromRocks(status, "counting expired events");
      subscription = std::move(updated);
      result.expired.push_back({subscriber, dataset, first, last_expired});
    }
    NDX_RETURN_IF_ERROR(RemoveThroughLocked(dataset, state, last_expired));
    result.expired_event_count += last_expired - first_expired + 1;
  }
  return result;
}

}  // namespace ndx::events
