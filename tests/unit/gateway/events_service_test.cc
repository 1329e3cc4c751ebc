// The Events service in this process, over mTLS on 127.0.0.1, with an audit sink the test
// controls: what waits for an audit append, and what does not.

#include "gateway/events_service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/proto_time.h"
#include "crypto/sealer.h"
#include "crypto/spiffe_id.h"
#include "crypto/tls.h"
#include "events/event_store.h"
#include "events/jetstream_event_store.h"
#include "registry/change_recorder.h"
#include "registry/registry_admin.h"
#include "registry/rocksdb_registry.h"
#include "testing/fake_clock.h"
#include "testing/nats_cluster.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::IsOk;
using ::testing::HasSubstr;

constexpr char kOperator[] = "platform/ops";
constexpr char kOwner[] = "civil/registry";
constexpr char kPurpose[] = "statistics";
// A dataset whose stream stays open while others end, and its subscriber.
constexpr char kDeaths[] = "civil/deaths";
constexpr char kTax[] = "tax/core";
constexpr char kRecordProto[] = R"(syntax = "proto3";
package civil.v1;
message Record {
  string record_id = 1;
  string status = 2;
}
)";
const absl::Time kStart = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z
// Only a guard against a hang: every wait ends as soon as what it waits for happens.
const absl::Duration kGuard = absl::Seconds(20);

// Records nothing and accepts everything: registry writes of the test's set-up are not audited.
class AcceptingRecorder : public registry::ChangeRecorder {
 public:
  absl::Status Record(const v1::RegistryChange&) override { return absl::OkStatus(); }
  void RecordFailure(const v1::RegistryChange&, const absl::Status&) override {}
};

// An audit sink that keeps every record and holds the appends of ended deliveries (their reason
// starts "delivery stopped") until Release: an audit log whose disk is slow to sync. Every other
// append completes at once. Thread-safe.
class HoldingAuditSink final : public audit::AuditSink {
 public:
  void Append(audit::AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override {
    bool hold = absl::StartsWith(record.reason, "delivery stopped");
    {
      absl::MutexLock lock(&mutex_);
      records_.push_back(record);
      if (hold) {
        ++held_;
        mutex_.Await(absl::Condition(&released_));
      }
    }
    std::move(done)(absl::OkStatus());
  }

  // Waits until an append is held and returns its record.
  std::optional<audit::AuditRecord> WaitHeld() {
    absl::MutexLock lock(&mutex_);
    auto holding = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return held_ > 0; };
    if (!mutex_.AwaitWithTimeout(absl::Condition(&holding), kGuard)) return std::nullopt;
    for (const audit::AuditRecord& record : records_) {
      if (absl::StartsWith(record.reason, "delivery stopped")) return record;
    }
    return std::nullopt;
  }

  void Release() {
    absl::MutexLock lock(&mutex_);
    released_ = true;
  }

  std::vector<audit::AuditRecord> Records(absl::string_view operation) {
    absl::MutexLock lock(&mutex_);
    std::vector<audit::AuditRecord> found;
    for (const audit::AuditRecord& record : records_) {
      if (record.operation == operation) found.push_back(record);
    }
    return found;
  }

 private:
  absl::Mutex mutex_;
  std::vector<audit::AuditRecord> records_ ABSL_GUARDED_BY(mutex_);
  int held_ ABSL_GUARDED_BY(mutex_) = 0;
  bool released_ ABSL_GUARDED_BY(mutex_) = false;
};

// One Subscribe stream on gRPC's callback API, so that hundreds of them hold no thread each.
class StreamReader final : public grpc::ClientReadReactor<v1::SubscribeResponse> {
 public:
  StreamReader(v1::Events::Stub* stub, const std::string& dataset, uint32_t window = 0)
      : dataset_(dataset) {
    request_.set_dataset(dataset);
    request_.set_purpose(kPurpose);
    request_.set_max_unacknowledged(window);
    stub->async()->Subscribe(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  // Ends the call if it is still open and waits for its end; required before destruction.
  ~StreamReader() override {
    context_.TryCancel();
    done_.WaitForNotification();
  }

  const std::string& dataset() const { return dataset_; }

  // Waits until the subscription is durable (the initial metadata came) or the stream ended.
  bool WaitSubscribed() {
    absl::MutexLock lock(&mutex_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return subscribed_ || ended_; };
    return mutex_.AwaitWithTimeout(absl::Condition(&ready), kGuard) && subscribed_;
  }

  // Waits until `count` events arrived; all that arrived.
  std::vector<v1::Event> WaitEvents(size_t count) {
    absl::MutexLock lock(&mutex_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return events_.size() >= count; };
    mutex_.AwaitWithTimeout(absl::Condition(&enough), kGuard);
    return events_;
  }

  // Waits for the end of the stream; its status, or nullopt while it is still open.
  std::optional<grpc::Status> WaitEnd() {
    if (!done_.WaitForNotificationWithTimeout(kGuard)) return std::nullopt;
    absl::MutexLock lock(&mutex_);
    return status_;
  }

  bool ended() {
    absl::MutexLock lock(&mutex_);
    return ended_;
  }

  // Ends the call from the subscriber's side; WaitEnd waits for the end.
  void Cancel() { context_.TryCancel(); }

  void OnReadInitialMetadataDone(bool ok) override {
    absl::MutexLock lock(&mutex_);
    subscribed_ = ok;
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    {
      absl::MutexLock lock(&mutex_);
      if (response_.has_event()) events_.push_back(response_.event());
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&mutex_);
      status_ = status;
      ended_ = true;
    }
    done_.Notify();
  }

 private:
  const std::string dataset_;
  grpc::ClientContext context_;
  v1::SubscribeRequest request_;
  v1::SubscribeResponse response_;  // owned by the outstanding read
  absl::Mutex mutex_;
  bool subscribed_ ABSL_GUARDED_BY(mutex_) = false;
  bool ended_ ABSL_GUARDED_BY(mutex_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mutex_);
  std::vector<v1::Event> events_ ABSL_GUARDED_BY(mutex_);
  absl::Notification done_;
};

// A unary call on its own thread, so that a test waits for it with a guard instead of hanging
// with it. The fixture owns it and joins it only after releasing the audit sink.
class BackgroundCall {
 public:
  explicit BackgroundCall(std::function<grpc::Status()> call)
      : thread_([this, call = std::move(call)] {
          grpc::Status status = call();
          absl::MutexLock lock(&mutex_);
          status_ = std::move(status);
        }) {}
  ~BackgroundCall() { thread_.join(); }

  // The call's status once it returned; nullopt while it still runs after the guard.
  std::optional<grpc::Status> Wait() {
    absl::MutexLock lock(&mutex_);
    auto returned = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return status_.has_value(); };
    mutex_.AwaitWithTimeout(absl::Condition(&returned), kGuard);
    return status_;
  }

 private:
  absl::Mutex mutex_;
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mutex_);
  std::thread thread_;
};

// Which event store the service runs on.
enum class Backend { kRocksDb, kJetStream };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kRocksDb ? "RocksDb" : "JetStream";
}

// One NATS server with JetStream for every JetStream case of the binary, each case under its
// own names (prefix).
class SharedNats {
 public:
  static SharedNats& Get() {
    static SharedNats* nats = new SharedNats();
    return *nats;
  }
  ::ndx::testing::NatsCluster* cluster() { return cluster_.get(); }
  std::string NextPrefix() { return absl::StrCat("svc", ++cases_); }

 private:
  SharedNats() {
    if (!::ndx::testing::NatsCluster::Unavailable().empty()) return;
    auto cluster = ::ndx::testing::NatsCluster::Start(pki_, 1);
    if (cluster.ok()) cluster_ = *std::move(cluster);
  }
  ::ndx::testing::TestPki pki_;
  std::unique_ptr<::ndx::testing::NatsCluster> cluster_;
  int cases_ = 0;
};

absl::StatusOr<std::unique_ptr<events::EventBackend>> OpenJetStream(const std::string& prefix) {
  ::ndx::testing::NatsCluster* cluster = SharedNats::Get().cluster();
  events::JetStreamEventStoreOptions options;
  options.urls = cluster->urls();
  options.ca_file = cluster->client_tls().ca_file;
  options.cert_file = cluster->client_tls().cert_file;
  options.key_file = cluster->client_tls().key_file;
  options.stream_replicas = 1;
  options.prefix = prefix;
  options.key_sealer = *crypto::Sealer::Create(std::string(32, 'k'), "event keys");
  return events::OpenJetStreamEventStore(options);
}

// A registry with an owner of many datasets and their consumers, the Events service over it
// (on the event store of the test's parameter) behind a gRPC server on 127.0.0.1:0, and
// channels as each node.
class EventsServiceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kJetStream && SharedNats::Get().cluster() == nullptr) {
      GTEST_SKIP() << "no NATS server: " << ::ndx::testing::NatsCluster::Unavailable();
    }
    absl::StatusOr<std::unique_ptr<registry::Registry>> registry =
        registry::OpenRocksDbRegistry(dir_.Join("registry"));
    ASSERT_THAT(registry.status(), IsOk());
    registry_ = *std::move(registry);
    admin_ = std::make_unique<registry::RegistryAdmin>(registry_.get(), &clock_);
    ASSERT_THAT(admin_->BootstrapOperators({std::string(kOperator)}, recorder_).status(), IsOk());
    RegisterNode(kOwner);

    if (GetParam() == Backend::kJetStream) {
      prefix_ = SharedNats::Get().NextPrefix();
      absl::StatusOr<std::unique_ptr<events::EventBackend>> store = OpenJetStream(prefix_);
      ASSERT_THAT(store.status(), IsOk());
      store_ = *std::move(store);
      return;
    }
    absl::StatusOr<crypto::Sealer> sealer =
        crypto::Sealer::Create(std::string(32, 'k'), "event keys");
    ASSERT_THAT(sealer.status(), IsOk());
    absl::StatusOr<std::unique_ptr<events::EventStore>> store = events::EventStore::Open(
        {.dir = dir_.Join("events"), .sync = false, .key_sealer = *std::move(sealer)});
    ASSERT_THAT(store.status(), IsOk());
    store_ = *std::move(store);
  }

  bool Stored(const std::string& subscriber, const std::string& dataset) {
    absl::StatusOr<std::optional<v1::Subscription>> found =
        store_->LookupSubscription(subscriber, dataset);
    EXPECT_THAT(found.status(), IsOk());
    return found.ok() && found->has_value();
  }

  void TearDown() override {
    // Whatever failed, held appends must end for the threads that wait on them to finish.
    audit_.Release();
    calls_.clear();
    readers_.clear();
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
    service_.reset();
  }

  void RegisterNode(const std::string& id) {
    v1::RegisterNodeRequest request;
    request.mutable_node()->set_id(id);
    request.mutable_node()->set_display_name(id);
    request.mutable_node()->set_kind(v1::NODE_KIND_MINISTRY);
    request.mutable_node()->set_state(v1::NODE_STATE_ACTIVE);
    ASSERT_THAT(admin_->RegisterNode(kOperator, request, recorder_).status(), IsOk());
  }

  void RegisterDataset(const std::string& id) {
    v1::RegisterDatasetRequest request;
    request.set_id(id);
    request.set_proto_file_name("record.proto");
    request.set_proto_source(kRecordProto);
    request.set_message_type("civil.v1.Record");
    request.set_key_field("record_id");
    request.set_description("test records");
    ASSERT_THAT(admin_->RegisterDataset(kOwner, request, recorder_).status(), IsOk());
  }

  // An approved grant of `consumer` on `dataset` that covers its key field; its id.
  std::string Grant(const std::string& consumer, const std::string& dataset) {
    v1::Grant grant;
    grant.set_id(absl::StrFormat("g-%016d", ++grants_));
    grant.set_consumer(consumer);
    grant.set_dataset(dataset);
    grant.add_fields("record_id");
    grant.add_purposes(kPurpose);
    *grant.mutable_expires_at() = ToProtoTime(kStart + absl::Hours(24 * 365));
    grant.set_state(v1::GRANT_STATE_APPROVED);
    EXPECT_THAT(registry_->PutGrant(grant).status(), IsOk());
    return grant.id();
  }

  void Revoke(const std::string& grant_id) {
    std::shared_ptr<const registry::Snapshot> snapshot = registry_->snapshot();
    const v1::Grant* stored = snapshot->FindGrant(grant_id);
    ASSERT_NE(stored, nullptr) << grant_id;
    v1::Grant grant = *stored;
    grant.set_state(v1::GRANT_STATE_REVOKED);
    grant.set_revoked_by(kOwner);
    *grant.mutable_revoked_at() = ToProtoTime(clock_.Now());
    grant.set_revoke_reason("no longer needed");
    ASSERT_THAT(registry_->PutGrant(grant).status(), IsOk());
  }

  void StartServer(NodeLimits* node_limits = nullptr) {
    service_ = std::make_unique<EventsService>(
        EventsOptions{.callers = {.trust_domain = ::ndx::testing::TestPki::kTrustDomain},
                      .registry_poll_interval = absl::Milliseconds(5),
                      .node_limits = node_limits},
        store_.get(), registry_.get(), &audit_, &clock_);
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        crypto::MakeServerCredentials(pki_.Gateway("core"), ::ndx::testing::TestPki::kTrustDomain);
    ASSERT_THAT(credentials.status(), IsOk());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  v1::Events::Stub* Stub(const std::string& node) {
    std::unique_ptr<v1::Events::Stub>& stub = stubs_[node];
    if (stub == nullptr) {
      absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
          crypto::MakeChannelCredentials(
              pki_.Node(node),
              crypto::SpiffeId::Gateway(::ndx::testing::TestPki::kTrustDomain, "core"));
      EXPECT_THAT(credentials.status(), IsOk());
      stub =
          v1::Events::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), *credentials));
    }
    return stub.get();
  }

  BackgroundCall* InBackground(std::function<grpc::Status()> call) {
    calls_.push_back(std::make_unique<BackgroundCall>(std::move(call)));
    return calls_.back().get();
  }

  StreamReader* Subscribe(const std::string& node, const std::string& dataset) {
    readers_.push_back(std::make_unique<StreamReader>(Stub(node), dataset));
    return readers_.back().get();
  }

  ::ndx::testing::TempDir dir_;
  ::ndx::testing::TestPki pki_;
  ::ndx::testing::FakeClock clock_{kStart};
  AcceptingRecorder recorder_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<registry::RegistryAdmin> admin_;
  std::string prefix_;  // of the JetStream names
  std::unique_ptr<events::EventBackend> store_;
  HoldingAuditSink audit_;
  // Outlives the streams, which give their places back when TearDown ends them.
  std::unique_ptr<NodeLimits> node_limits_;
  std::unique_ptr<EventsService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::map<std::string, std::unique_ptr<v1::Events::Stub>> stubs_;
  int grants_ = 0;
  // Cleared by TearDown once the sink holds nothing: each waits for its call to end.
  std::vector<std::unique_ptr<BackgroundCall>> calls_;
  std::vector<std::unique_ptr<StreamReader>> readers_;
};

// Revoking grants wakes every open stream and audits the end of each stream it ends. Those
// appends may wait for a synced write; here they wait until the test releases them. Meanwhile a
// publication, its delivery to a stream whose grant stays in force, and an acknowledgement of a
// stream whose end is being recorded all complete: none of them waits for the revocation's
// appends, which therefore run under no lock that they take.
TEST_P(EventsServiceTest, RevocationWithManyIdleStreamsDoesNotBlockPublishOrAck) {
  // 200 idle streams: 8 nodes on 25 datasets each, each under its own grant.
  constexpr int kNodes = 8;
  constexpr int kDatasets = 25;
  std::vector<std::string> datasets;
  for (int d = 0; d < kDatasets; ++d) {
    datasets.push_back(absl::StrFormat("civil/set-%02d", d));
    RegisterDataset(datasets.back());
  }
  std::vector<std::string> revoked;
  for (int n = 0; n < kNodes; ++n) {
    std::string node = absl::StrFormat("moh/node-%d", n);
    RegisterNode(node);
    for (const std::string& dataset : datasets) revoked.push_back(Grant(node, dataset));
  }
  // A stream whose grant stays in force, on a dataset of its own.
  RegisterDataset(kDeaths);
  RegisterNode(kTax);
  Grant(kTax, kDeaths);
  StartServer();

  std::vector<StreamReader*> idle;
  for (int n = 0; n < kNodes; ++n) {
    for (const std::string& dataset : datasets) {
      idle.push_back(Subscribe(absl::StrFormat("moh/node-%d", n), dataset));
    }
  }
  StreamReader* deaths = Subscribe(kTax, kDeaths);
  for (StreamReader* reader : idle) ASSERT_TRUE(reader->WaitSubscribed());
  ASSERT_TRUE(deaths->WaitSubscribed());

  for (const std::string& grant_id : revoked) Revoke(grant_id);
  std::optional<audit::AuditRecord> held = audit_.WaitHeld();
  ASSERT_TRUE(held.has_value()) << "no stream end was audited after the revocation";

  // While the end's append is held: a publication on another dataset is answered...
  v1::Events::Stub* owner = Stub(kOwner);
  BackgroundCall* publish = InBackground([owner] {
    grpc::ClientContext context;
    v1::PublishRequest request;
    request.set_dataset(kDeaths);
    request.set_key("D-2026-0001");
    request.set_type("death.registered");
    v1::PublishResponse response;
    return owner->Publish(&context, request, &response);
  });
  std::optional<grpc::Status> published = publish->Wait();
  ASSERT_TRUE(published.has_value()) << "Publish waited for the audit append of a stream's end";
  EXPECT_TRUE(published->ok()) << published->error_message();
  // ...and delivered...
  std::vector<v1::Event> delivered = deaths->WaitEvents(1);
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].sequence(), 1u);
  // ...and the subscriber of the stream being ended acknowledges, which reaches that stream.
  v1::Events::Stub* subscriber = Stub(held->caller);
  BackgroundCall* ack = InBackground([subscriber, dataset = held->dataset] {
    grpc::ClientContext context;
    v1::AckRequest request;
    request.set_dataset(dataset);
    request.set_sequence(0);
    v1::AckResponse response;
    return subscriber->Ack(&context, request, &response);
  });
  std::optional<grpc::Status> acknowledged = ack->Wait();
  ASSERT_TRUE(acknowledged.has_value())
      << "Ack waited for the audit append of the end of its own stream, under the stream's lock";
  EXPECT_TRUE(acknowledged->ok()) << acknowledged->error_message();

  audit_.Release();
  for (StreamReader* reader : idle) {
    std::optional<grpc::Status> end = reader->WaitEnd();
    ASSERT_TRUE(end.has_value()) << reader->dataset() << " still open after its grant's end";
    EXPECT_EQ(end->error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(end->error_message(),
                HasSubstr(absl::StrCat("delivery of ", reader->dataset(), " stopped: grant g-")));
  }
  // Each end is audited once, before its subscriber is told.
  std::vector<std::pair<std::string, std::string>> ends;
  for (const audit::AuditRecord& record : audit_.Records("Events.Subscribe")) {
    if (absl::StartsWith(record.reason, "delivery stopped")) {
      ends.emplace_back(record.caller, record.dataset);
    }
  }
  EXPECT_EQ(ends.size(), size_t{kNodes * kDatasets});
  EXPECT_EQ(std::set(ends.begin(), ends.end()).size(), ends.size());
  EXPECT_FALSE(deaths->ended());
}

// A node's open Subscribe streams and its stored subscriptions are capped (node_limits). Over a
// cap, Subscribe is refused with RESOURCE_EXHAUSTED naming the setting, and its record is marked
// as an overload refusal, for the audit log to count rather than append one by one. A stream
// gives its place back when it ends; a subscription keeps its place after its stream ended, and
// resuming it takes none.
TEST_P(EventsServiceTest, SubscribeStreamsAndSubscriptionsAreCappedPerNode) {
  std::vector<std::string> datasets;
  for (int d = 0; d < 4; ++d) {
    datasets.push_back(absl::StrFormat("civil/set-%02d", d));
    RegisterDataset(datasets.back());
  }
  RegisterNode(kTax);
  for (const std::string& dataset : datasets) Grant(kTax, dataset);
  NodeLimitsOptions caps;
  caps.nodes[kTax] = NodeCapValues{.streams = 2, .subscriptions = 3};
  node_limits_ = std::make_unique<NodeLimits>(caps);
  NodeLimits& limits = *node_limits_;
  StartServer(&limits);

  StreamReader* first = Subscribe(kTax, datasets[0]);
  StreamReader* second = Subscribe(kTax, datasets[1]);
  ASSERT_TRUE(first->WaitSubscribed());
  ASSERT_TRUE(second->WaitSubscribed());
  EXPECT_EQ(limits.Held(kTax, NodeResource::kStreams), 2);

  // A third stream while two are open.
  std::optional<grpc::Status> refused = Subscribe(kTax, datasets[2])->WaitEnd();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused->error_message(), HasSubstr("node_limits.nodes[\"tax/core\"].streams"));
  EXPECT_FALSE(Stored(kTax, datasets[2]));

  // The gateway gives a stream's place back in its OnDone, after the subscriber heard the end.
  auto end = [&](StreamReader* reader) {
    int open = limits.Held(kTax, NodeResource::kStreams);
    reader->Cancel();
    ASSERT_TRUE(reader->WaitEnd().has_value());
    for (absl::Time guard = absl::Now() + kGuard;
         limits.Held(kTax, NodeResource::kStreams) >= open && absl::Now() < guard;) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_EQ(limits.Held(kTax, NodeResource::kStreams), open - 1);
  };

  // Once one ends, its place is free: the third stream opens, and is the third subscription.
  end(first);
  StreamReader* third = Subscribe(kTax, datasets[2]);
  ASSERT_TRUE(third->WaitSubscribed());

  // Three subscriptions are stored, one of them without a stream: a fourth dataset is refused...
  end(second);
  std::optional<grpc::Status> fourth = Subscribe(kTax, datasets[3])->WaitEnd();
  ASSERT_TRUE(fourth.has_value());
  EXPECT_EQ(fourth->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(fourth->error_message(),
              HasSubstr("has 3 subscriptions, as many as the gateway allows it "
                        "(node_limits.nodes[\"tax/core\"].subscriptions)"));
  EXPECT_FALSE(Stored(kTax, datasets[3]));
  // ...while resuming one of the three is not a new subscription.
  StreamReader* resumed = Subscribe(kTax, datasets[0]);
  EXPECT_TRUE(resumed->WaitSubscribed());

  std::vector<std::string> marked;
  for (const audit::AuditRecord& record : audit_.Records("Events.Subscribe")) {
    if (!record.overload_reason.empty()) marked.push_back(record.overload_reason);
  }
  EXPECT_EQ(marked, (std::vector<std::string>{"refused for overload (node_streams)",
                                              "refused for overload (node_subscriptions)"}));
}

// Two gateway replicas sharing one JetStream store: a subscriber publishes, subscribes and
// acknowledges through either.
class EventsServiceReplicasTest : public EventsServiceTest {
 protected:
  // A second replica, on its own store instance (its own NATS connection) with the same names.
  void StartSecondReplica() {
    absl::StatusOr<std::unique_ptr<events::EventBackend>> store = OpenJetStream(prefix_);
    ASSERT_THAT(store.status(), IsOk());
    second_store_ = *std::move(store);
    second_service_ = std::make_unique<EventsService>(
        EventsOptions{.callers = {.trust_domain = ::ndx::testing::TestPki::kTrustDomain},
                      .registry_poll_interval = absl::Milliseconds(5)},
        second_store_.get(), registry_.get(), &audit_, &clock_);
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        crypto::MakeServerCredentials(pki_.Gateway("core"), ::ndx::testing::TestPki::kTrustDomain);
    ASSERT_THAT(credentials.status(), IsOk());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port);
    builder.RegisterService(second_service_.get());
    second_server_ = builder.BuildAndStart();
    ASSERT_NE(second_server_, nullptr);
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> channel =
        crypto::MakeChannelCredentials(
            pki_.Node(kTax),
            crypto::SpiffeId::Gateway(::ndx::testing::TestPki::kTrustDomain, "core"));
    ASSERT_THAT(channel.status(), IsOk());
    second_stub_ =
        v1::Events::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), *channel));
  }

  void TearDown() override {
    second_readers_.clear();
    if (second_server_ != nullptr) second_server_->Shutdown(std::chrono::system_clock::now());
    second_service_.reset();
    EventsServiceTest::TearDown();
  }

  StreamReader* SubscribeOnSecond(const std::string& dataset, uint32_t window) {
    second_readers_.push_back(std::make_unique<StreamReader>(second_stub_.get(), dataset, window));
    return second_readers_.back().get();
  }

  grpc::Status Publish(const std::string& key) {
    grpc::ClientContext context;
    v1::PublishRequest request;
    request.set_dataset(kDeaths);
    request.set_key(key);
    request.set_type("death.registered");
    v1::PublishResponse response;
    return Stub(kOwner)->Publish(&context, request, &response);
  }

  grpc::Status Ack(uint64_t sequence) {
    grpc::ClientContext context;
    v1::AckRequest request;
    request.set_dataset(kDeaths);
    request.set_sequence(sequence);
    v1::AckResponse response;
    return Stub(kTax)->Ack(&context, request, &response);
  }

  std::unique_ptr<events::EventBackend> second_store_;
  std::unique_ptr<EventsService> second_service_;
  std::unique_ptr<grpc::Server> second_server_;
  std::unique_ptr<v1::Events::Stub> second_stub_;
  std::vector<std::unique_ptr<StreamReader>> second_readers_;
};

TEST_P(EventsServiceReplicasTest, PublishAckAndResumeThroughEitherReplica) {
  RegisterDataset(kDeaths);
  RegisterNode(kTax);
  Grant(kTax, kDeaths);
  StartServer();
  StartSecondReplica();

  // Subscribed through the second replica, one event outstanding at most.
  StreamReader* second = SubscribeOnSecond(kDeaths, 1);
  ASSERT_TRUE(second->WaitSubscribed());
  // Published through the first: the second replica learns of it and delivers.
  ASSERT_TRUE(Publish("D-1").ok());
  ASSERT_TRUE(Publish("D-2").ok());
  std::vector<v1::Event> received = second->WaitEvents(1);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].key(), "D-1");
  // Acknowledged through the first: the second replica's window moves and #2 comes.
  ASSERT_TRUE(Ack(1).ok());
  received = second->WaitEvents(2);
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[1].sequence(), 2u);

  // The subscriber comes back through the first replica: its stream there supersedes the one on
  // the second, and it resumes after its last acknowledgement, #1.
  StreamReader* first = Subscribe(kTax, kDeaths);
  ASSERT_TRUE(first->WaitSubscribed());
  std::optional<grpc::Status> superseded = second->WaitEnd();
  ASSERT_TRUE(superseded.has_value());
  EXPECT_EQ(superseded->error_code(), grpc::StatusCode::ABORTED);
  received = first->WaitEvents(1);
  ASSERT_GE(received.size(), 1u);
  EXPECT_EQ(received[0].sequence(), 2u);
  EXPECT_EQ(received[0].key(), "D-2");
}

INSTANTIATE_TEST_SUITE_P(JetStream, EventsServiceReplicasTest,
                         ::testing::Values(Backend::kJetStream), BackendName);

INSTANTIATE_TEST_SUITE_P(Backends, EventsServiceTest,
                         ::testing::Values(Backend::kRocksDb, Backend::kJetStream), BackendName);

}  // namespace
}  // namespace ndx::gateway
