#include "fake_gateway.h"

#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "common/schema.h"
#include "crypto/signing.h"
#include "crypto/tls.h"

namespace ndx::cli {
namespace {

constexpr char kType[] = "population.v1.Resident";

v1::Dataset ResidentsDataset() {
  v1::Dataset dataset;
  dataset.set_id("mops/residents");
  dataset.set_owner("mops/population");
  dataset.set_message_type(kType);
  dataset.set_key_field("citizen_id");
  dataset.set_subject_field("citizen_id");
  dataset.set_schema_version(2);
  dataset.set_description("Permanent residents");
  absl::StatusOr<google::protobuf::FileDescriptorSet> schema =
      CompileProtoFile("resident.proto", kResidentProto);
  EXPECT_TRUE(schema.ok()) << schema.status();
  if (schema.ok()) *dataset.mutable_schema() = *schema;
  const char* names[] = {"citizen_id", "full_name", "birth_date",
                         "province",   "address",   "household_size"};
  for (int i = 0; i < 6; ++i) {
    v1::FieldInfo* field = dataset.add_fields();
    field->set_name(names[i]);
    field->set_number(i + 1);
    field->set_type(i == 5 ? "int64" : "string");
    field->set_field_class(i == 3 ? v1::FIELD_CLASS_OPEN : v1::FIELD_CLASS_PERSONAL);
  }
  return dataset;
}

// A Resident serialized into an Any, built with the dynamic message of the schema.
google::protobuf::Any Resident(const std::string& citizen_id, const std::string& full_name) {
  static const std::shared_ptr<const Schema> schema = [] {
    auto loaded = Schema::Load(ResidentsDataset().schema());
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return *loaded;
  }();
  const google::protobuf::Descriptor* type = *schema->FindMessage(kType);
  std::unique_ptr<google::protobuf::Message> message = schema->NewMessage(type);
  const google::protobuf::Reflection* reflection = message->GetReflection();
  reflection->SetString(message.get(), type->FindFieldByName("citizen_id"), citizen_id);
  reflection->SetString(message.get(), type->FindFieldByName("full_name"), full_name);
  reflection->SetString(message.get(), type->FindFieldByName("address"), "12 Hang Bac");
  google::protobuf::Any any;
  any.set_type_url(absl::StrCat("type.googleapis.com/", kType));
  any.set_value(message->SerializeAsString());
  return any;
}

}  // namespace

class FakeGateway::RegistryImpl final : public v1::Registry::Service {
 public:
  grpc::Status RegisterNode(grpc::ServerContext*, const v1::RegisterNodeRequest* request,
                            v1::Node* response) override {
    absl::MutexLock lock(&mutex_);
    ++register_node_calls_;
    if (unavailable_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "replica stopping");
    last_register_node_ = *request;
    *response = request->node();
    return grpc::Status::OK;
  }
  grpc::Status ListNodes(grpc::ServerContext*, const v1::ListNodesRequest*,
                         v1::ListNodesResponse* response) override {
    v1::Node* population = response->add_nodes();
    population->set_id("mops/population");
    population->set_display_name("Population register");
    population->set_kind(v1::NODE_KIND_MINISTRY);
    population->set_adapter_endpoint("127.0.0.1:9101");
    population->set_state(v1::NODE_STATE_ACTIVE);
    v1::Node* ops = response->add_nodes();
    ops->set_id("ndx/ops");
    ops->set_display_name("Platform operations");
    ops->set_kind(v1::NODE_KIND_OTHER);
    ops->add_roles(v1::ROLE_OPERATOR);
    ops->add_roles(v1::ROLE_AUDITOR);
    ops->set_state(v1::NODE_STATE_ACTIVE);
    return grpc::Status::OK;
  }
  grpc::Status GetDataset(grpc::ServerContext*, const v1::GetDatasetRequest* request,
                          v1::Dataset* response) override {
    if (request->id() != "mops/residents") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("dataset ", request->id(), " is not registered"));
    }
    *response = ResidentsDataset();
    return grpc::Status::OK;
  }
  grpc::Status RegisterDataset(grpc::ServerContext*, const v1::RegisterDatasetRequest* request,
                               v1::Dataset* response) override {
    absl::MutexLock lock(&mutex_);
    last_register_dataset_ = *request;
    *response = ResidentsDataset();
    return grpc::Status::OK;
  }
  grpc::Status RequestGrant(grpc::ServerContext*, const v1::RequestGrantRequest* request,
                            v1::Grant* response) override {
    absl::MutexLock lock(&mutex_);
    last_request_grant_ = *request;
    response->set_id("g-7");
    response->set_consumer("moh/insurance");
    response->set_dataset(request->dataset());
    *response->mutable_fields() = request->fields();
    *response->mutable_purposes() = request->purposes();
    *response->mutable_expires_at() = request->expires_at();
    response->set_state(v1::GRANT_STATE_REQUESTED);
    if (request->has_rate_limit()) *response->mutable_rate_limit() = request->rate_limit();
    return grpc::Status::OK;
  }
  grpc::Status ApproveGrant(grpc::ServerContext*, const v1::ApproveGrantRequest* request,
                            v1::Grant* response) override {
    absl::MutexLock lock(&mutex_);
    last_approve_grant_ = *request;
    *response = GrantWithId(request->grant_id(), v1::GRANT_STATE_APPROVED);
    if (request->has_rate_limit()) *response->mutable_rate_limit() = request->rate_limit();
    return grpc::Status::OK;
  }
  grpc::Status SetGrantRateLimit(grpc::ServerContext*, const v1::SetGrantRateLimitRequest* request,
                                 v1::Grant* response) override {
    absl::MutexLock lock(&mutex_);
    last_set_grant_rate_limit_ = *request;
    *response = GrantWithId(request->grant_id(), v1::GRANT_STATE_APPROVED);
    if (request->has_rate_limit()) *response->mutable_rate_limit() = request->rate_limit();
    return grpc::Status::OK;
  }

  static v1::Grant GrantWithId(const std::string& id, v1::GrantState state) {
    v1::Grant grant;
    grant.set_id(id);
    grant.set_consumer("moh/insurance");
    grant.set_dataset("mops/residents");
    grant.add_fields("full_name");
    grant.add_purposes("enrolment");
    grant.set_state(state);
    return grant;
  }

  mutable absl::Mutex mutex_;
  bool unavailable_ ABSL_GUARDED_BY(mutex_) = false;
  int register_node_calls_ ABSL_GUARDED_BY(mutex_) = 0;
  v1::RegisterNodeRequest last_register_node_ ABSL_GUARDED_BY(mutex_);
  v1::RegisterDatasetRequest last_register_dataset_ ABSL_GUARDED_BY(mutex_);
  v1::RequestGrantRequest last_request_grant_ ABSL_GUARDED_BY(mutex_);
  v1::ApproveGrantRequest last_approve_grant_ ABSL_GUARDED_BY(mutex_);
  v1::SetGrantRateLimitRequest last_set_grant_rate_limit_ ABSL_GUARDED_BY(mutex_);
};

class FakeGateway::ExchangeImpl final : public v1::Exchange::Service {
 public:
  grpc::Status Get(grpc::ServerContext*, const v1::GetRequest* request,
                   v1::GetResponse* response) override {
    if (request->purpose() == "denied") {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "node moh/insurance has no grant on dataset mops/residents");
    }
    if (request->key() == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    *response->mutable_record() = Resident(request->key(), "Nguyễn Văn An");
    if (request->key() == "wrong-type") {
      response->mutable_record()->set_type_url("type.googleapis.com/other.v1.Thing");
    }
    response->add_fields("citizen_id");
    response->add_fields("full_name");
    response->add_fields("household_size");
    response->set_request_id("req-1");
    return grpc::Status::OK;
  }
  grpc::Status Query(grpc::ServerContext*, const v1::QueryRequest* request,
                     v1::QueryResponse* response) override {
    {
      absl::MutexLock lock(&mutex_);
      queries_.push_back(*request);
      if (unavailable_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "replica stopping");
    }
    response->add_fields("citizen_id");
    response->add_fields("full_name");
    if (request->page_token().empty()) {
      *response->add_records() = Resident("001", "Nguyen Van An");
      *response->add_records() = Resident("002", "Tran Thi Binh");
      response->set_next_page_token("page-2");
      response->set_request_id("req-q1");
    } else if (request->page_token() == "page-2") {
      *response->add_records() = Resident("004", "Pham Thi Dung");
      response->set_request_id("req-q2");
    } else {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad page token");
    }
    return grpc::Status::OK;
  }

  mutable absl::Mutex mutex_;
  bool unavailable_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<v1::QueryRequest> queries_ ABSL_GUARDED_BY(mutex_);
};

// The Audit service over a real Merkle tree; see fake_gateway.h. Thread-safe (mutex_).
class FakeGateway::AuditImpl final : public v1::Audit::Service {
 public:
  AuditImpl()
      : key_(*crypto::SigningKey::Generate()),
        other_key_(*crypto::SigningKey::Generate()),
        tree_(*audit::MerkleTree::Open(&store_, 0)) {}

  grpc::Status QueryEntries(grpc::ServerContext*, const v1::QueryEntriesRequest* request,
                            v1::QueryEntriesResponse* response) override {
    absl::MutexLock lock(&mutex_);
    queries_.push_back(*request);
    uint64_t offset = 0;
    if (!request->page_token().empty()) {
      absl::string_view token = request->page_token();
      if (!absl::ConsumePrefix(&token, "offset-") || !absl::SimpleAtoi(token, &offset)) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad page token");
      }
    }
    const uint64_t page_size = request->page_size() > 0 ? request->page_size() : 2;
    const uint64_t count = entries_.size();
    for (uint64_t i = offset; i < count && i < offset + page_size; ++i) {
      response->add_entries()->ParseFromString(entries_[count - 1 - i]);
    }
    if (offset + page_size < count) {
      response->set_next_page_token(absl::StrCat("offset-", offset + page_size));
    }
    return grpc::Status::OK;
  }

  grpc::Status GetCheckpoint(grpc::ServerContext*, const v1::GetCheckpointRequest* request,
                             v1::SignedCheckpoint* response) override {
    absl::MutexLock lock(&mutex_);
    checkpoint_requests_.push_back(*request);
    if (request->sign_now()) SignLocked(tree_.size());
    response->set_note(note_);
    response->set_tree_size(checkpoint_.size);
    response->set_root_hash(std::string(crypto::AsBytes(checkpoint_.root)));
    response->mutable_time()->set_seconds(absl::ToUnixSeconds(checkpoint_.time));
    response->set_verifier_key(VerifierKey());
    return grpc::Status::OK;
  }

  grpc::Status GetInclusionProof(grpc::ServerContext*, const v1::GetInclusionProofRequest* request,
                                 v1::InclusionProof* response) override {
    absl::MutexLock lock(&mutex_);
    uint64_t size = request->tree_size() == 0 ? checkpoint_.size : request->tree_size();
    absl::StatusOr<std::vector<audit::Hash>> proof =
        tree_.InclusionProof(request->sequence(), size);
    if (!proof.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          std::string(proof.status().message()));
    }
    response->set_sequence(request->sequence());
    response->set_tree_size(size);
    response->set_entry(EntryBytesLocked(request->sequence()));
    for (const audit::Hash& hash : *proof) response->add_hashes(std::string(crypto::AsBytes(hash)));
    return grpc::Status::OK;
  }

  grpc::Status GetConsistencyProof(grpc::ServerContext*,
                                   const v1::GetConsistencyProofRequest* request,
                                   v1::ConsistencyProof* response) override {
    absl::MutexLock lock(&mutex_);
    absl::StatusOr<std::vector<audit::Hash>> proof =
        tree_.ConsistencyProof(request->old_size(), request->new_size());
    if (!proof.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          std::string(proof.status().message()));
    }
    if (faults_.bad_consistency_proof && !proof->empty()) (*proof)[0][0] ^= 1;
    response->set_old_size(request->old_size());
    response->set_new_size(request->new_size());
    for (const audit::Hash& hash : *proof) response->add_hashes(std::string(crypto::AsBytes(hash)));
    return grpc::Status::OK;
  }

  grpc::Status ExportEntries(grpc::ServerContext*, const v1::ExportEntriesRequest* request,
                             grpc::ServerWriter<v1::ExportedEntry>* writer) override {
    std::vector<v1::ExportedEntry> exported;
    {
      absl::MutexLock lock(&mutex_);
      uint64_t end = request->end() == 0 ? entries_.size() : request->end();
      if (request->start() > end || end > entries_.size()) {
        return grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "range past the log");
      }
      for (uint64_t i = request->start(); i < end; ++i) {
        if (faults_.removed_entry == i) continue;
        v1::ExportedEntry& entry = exported.emplace_back();
        entry.set_sequence(i);
        entry.set_entry(EntryBytesLocked(i));
      }
    }
    for (const v1::ExportedEntry& entry : exported) {
      if (!writer->Write(entry)) break;
    }
    return grpc::Status::OK;
  }

  void Append(int count) {
    absl::MutexLock lock(&mutex_);
    std::vector<std::string> added;
    for (int i = 0; i < count; ++i) {
      added.push_back(AuditEntryAt(entries_.size() + i).SerializeAsString());
    }
    EXPECT_TRUE(tree_.Append(added).ok());
    entries_.insert(entries_.end(), added.begin(), added.end());
    SignLocked(tree_.size());
  }

  void PublishAt(uint64_t size) {
    absl::MutexLock lock(&mutex_);
    SignLocked(size);
  }

  std::string VerifierKey() const {
    return audit::FormatVerifierKey(kAuditOrigin, key_.public_key());
  }

  mutable absl::Mutex mutex_;
  AuditFaults faults_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::string> entries_ ABSL_GUARDED_BY(mutex_);
  std::vector<v1::QueryEntriesRequest> queries_ ABSL_GUARDED_BY(mutex_);
  std::vector<v1::GetCheckpointRequest> checkpoint_requests_ ABSL_GUARDED_BY(mutex_);

 private:
  // REQUIRES: mutex_ is held.
  std::string EntryBytesLocked(uint64_t sequence) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (faults_.tampered_entry != sequence) return entries_[sequence];
    v1::AuditEntry entry = AuditEntryAt(sequence);
    entry.set_purpose("nothing to see here");
    return entry.SerializeAsString();
  }

  void SignLocked(uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    checkpoint_.origin = kAuditOrigin;
    checkpoint_.size = size;
    checkpoint_.root = *tree_.Root(size);
    checkpoint_.time = absl::FromUnixSeconds(1767225600 + static_cast<int64_t>(size));
    absl::StatusOr<std::string> note = audit::SignCheckpoint(
        checkpoint_, kAuditOrigin, faults_.wrong_signature ? other_key_ : key_);
    EXPECT_TRUE(note.ok()) << note.status();
    note_ = note.value_or("");
  }

  const crypto::SigningKey key_;
  const crypto::SigningKey other_key_;
  audit::InMemoryHashStore store_;
  audit::MerkleTree tree_ ABSL_GUARDED_BY(mutex_);
  audit::Checkpoint checkpoint_ ABSL_GUARDED_BY(mutex_);
  std::string note_ ABSL_GUARDED_BY(mutex_);
};

// The Events service over an in-memory log of kEventsDataset; see fake_gateway.h. Thread-safe
// (mutex_).
class FakeGateway::EventsImpl final : public v1::Events::Service {
 public:
  grpc::Status Publish(grpc::ServerContext*, const v1::PublishRequest* request,
                       v1::PublishResponse* response) override {
    absl::MutexLock lock(&mutex_);
    publishes_.push_back(*request);
    if (request->dataset() != kEventsDataset) return UnknownDataset(request->dataset());
    *response->mutable_event() = AppendLocked(request->key(), request->type());
    response->set_subscriptions(2);
    return grpc::Status::OK;
  }

  grpc::Status Subscribe(grpc::ServerContext* context, const v1::SubscribeRequest* request,
                         grpc::ServerWriter<v1::SubscribeResponse>* writer) override {
    {
      absl::MutexLock lock(&mutex_);
      subscribes_.push_back(*request);
    }
    if (request->dataset() != kEventsDataset) return UnknownDataset(request->dataset());
    if (request->purpose() == "denied") {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "node moh/insurance has no grant on dataset mops/residents for purpose "
                          "denied");
    }
    writer->SendInitialMetadata();
    std::optional<grpc::Status> end_after_first;
    if (request->purpose() == "revoked") {
      end_after_first = grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "grant g-7 was revoked");
    } else if (request->purpose() == "taken-over") {
      end_after_first = grpc::Status(grpc::StatusCode::ABORTED,
                                     "another subscription of moh/insurance to mops/residents "
                                     "took over");
    }
    uint64_t next = 0;
    std::optional<v1::SubscribeResponse> expired;
    {
      absl::MutexLock lock(&mutex_);
      ++open_streams_;
      if (unavailable_streams_ > 0) {
        --unavailable_streams_;
        end_after_first = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the gateway is restarting");
      }
      next = acknowledged_ + 1;
      if (expired_.last_sequence() >= next) {
        expired.emplace();
        *expired->mutable_expired() = expired_;
        expired->mutable_expired()->set_first_sequence(std::max(next, expired_.first_sequence()));
        next = expired_.last_sequence() + 1;
      }
    }
    auto finish = [this](grpc::Status status) {
      absl::MutexLock lock(&mutex_);
      --open_streams_;
      return status;
    };
    if (expired.has_value() && !writer->Write(*expired)) return finish(grpc::Status::OK);
    while (true) {
      v1::SubscribeResponse item;
      {
        absl::MutexLock lock(&mutex_);
        while (events_.size() < next && !stopping_ && !context->IsCancelled()) {
          appended_.WaitWithTimeout(&mutex_, absl::Milliseconds(10));
        }
        if (events_.size() < next) {
          --open_streams_;
          return grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
        }
        *item.mutable_event() = events_[next - 1];
      }
      if (!writer->Write(item)) return finish(grpc::Status::OK);
      ++next;
      if (end_after_first.has_value()) return finish(*end_after_first);
    }
  }

  grpc::Status Ack(grpc::ServerContext*, const v1::AckRequest* request,
                   v1::AckResponse* response) override {
    absl::MutexLock lock(&mutex_);
    acks_.push_back(*request);
    if (request->dataset() != kEventsDataset) return UnknownDataset(request->dataset());
    if (request->sequence() > events_.size()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("sequence ", request->sequence(), " is past the head ",
                                       events_.size(), " of ", kEventsDataset));
    }
    acknowledged_ = std::max(acknowledged_, request->sequence());
    response->set_acknowledged_sequence(acknowledged_);
    return grpc::Status::OK;
  }

  grpc::Status ListSubscriptions(grpc::ServerContext*, const v1::ListSubscriptionsRequest* request,
                                 v1::ListSubscriptionsResponse* response) override {
    absl::MutexLock lock(&mutex_);
    lists_.push_back(*request);
    v1::Subscription mine;
    mine.set_subscriber("moh/insurance");
    mine.set_dataset(kEventsDataset);
    mine.set_grant_id("g-7");
    mine.set_purpose("health-insurance-enrolment");
    mine.set_acknowledged_sequence(acknowledged_);
    mine.set_head_sequence(events_.size());
    if (expired_.last_sequence() > 0) {
      mine.set_expired_events(expired_.last_sequence() - expired_.first_sequence() + 1);
    }
    mine.mutable_created_at()->set_seconds(1767225600);
    mine.set_connected(open_streams_ > 0);
    v1::Subscription courts;
    courts.set_subscriber("moj/courts");
    courts.set_dataset("mops/births");
    courts.set_grant_id("g-9");
    courts.set_purpose("court-proceedings");
    courts.set_acknowledged_sequence(40);
    courts.set_head_sequence(42);
    courts.mutable_created_at()->set_seconds(1767225600);
    courts.set_connected(true);
    for (v1::Subscription* subscription : {&mine, &courts}) {
      if (request->dataset().empty() || request->dataset() == subscription->dataset()) {
        *response->add_subscriptions() = std::move(*subscription);
      }
    }
    return grpc::Status::OK;
  }

  void Append(int count) {
    absl::MutexLock lock(&mutex_);
    for (int i = 0; i < count; ++i) {
      AppendLocked(absl::StrCat("B-", events_.size() + 1), "birth.registered");
    }
  }

  // Ends the open streams, so that the server shuts down at once.
  void Stop() {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
    appended_.SignalAll();
  }

  mutable absl::Mutex mutex_;
  std::vector<v1::Event> events_ ABSL_GUARDED_BY(mutex_);
  uint64_t acknowledged_ ABSL_GUARDED_BY(mutex_) = 0;
  v1::EventsExpired expired_ ABSL_GUARDED_BY(mutex_);
  int unavailable_streams_ ABSL_GUARDED_BY(mutex_) = 0;
  int open_streams_ ABSL_GUARDED_BY(mutex_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<v1::PublishRequest> publishes_ ABSL_GUARDED_BY(mutex_);
  std::vector<v1::SubscribeRequest> subscribes_ ABSL_GUARDED_BY(mutex_);
  std::vector<v1::AckRequest> acks_ ABSL_GUARDED_BY(mutex_);
  std::vector<v1::ListSubscriptionsRequest> lists_ ABSL_GUARDED_BY(mutex_);

 private:
  static grpc::Status UnknownDataset(const std::string& dataset) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("dataset ", dataset, " is not registered"));
  }

  v1::Event AppendLocked(const std::string& key, const std::string& type)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    v1::Event& event = events_.emplace_back();
    event.set_dataset(kEventsDataset);
    event.set_sequence(events_.size());
    event.set_key(key);
    event.set_type(type);
    event.mutable_published_at()->set_seconds(1767225600 +
                                              static_cast<int64_t>(events_.size()) * 60);
    event.set_publisher("mops/population");
    appended_.SignalAll();
    return event;
  }

  absl::CondVar appended_;
};

FakeGateway::FakeGateway(testing::TestPki& pki)
    : pki_(pki),
      registry_(std::make_unique<RegistryImpl>()),
      exchange_(std::make_unique<ExchangeImpl>()),
      audit_(std::make_unique<AuditImpl>()),
      events_(std::make_unique<EventsImpl>()) {
  auto credentials =
      crypto::MakeServerCredentials(pki_.Gateway("core"), testing::TestPki::kTrustDomain);
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
  builder.RegisterService(registry_.get());
  builder.RegisterService(exchange_.get());
  builder.RegisterService(audit_.get());
  builder.RegisterService(events_.get());
  server_ = builder.BuildAndStart();
  EXPECT_NE(server_, nullptr);
  EXPECT_GT(port_, 0);
}

FakeGateway::~FakeGateway() {
  events_->Stop();
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
}

std::string FakeGateway::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::vector<std::string> FakeGateway::FlagsAs(const std::string& node_id) {
  crypto::TlsFilePaths tls = pki_.Node(node_id);
  return {"--gateway",   address(), "--ca",       tls.ca_file,    "--cert",
          tls.cert_file, "--key",   tls.key_file, "--gateway-id", "core"};
}

v1::RegisterDatasetRequest FakeGateway::last_register_dataset() const {
  absl::MutexLock lock(&registry_->mutex_);
  return registry_->last_register_dataset_;
}

v1::RequestGrantRequest FakeGateway::last_request_grant() const {
  absl::MutexLock lock(&registry_->mutex_);
  return registry_->last_request_grant_;
}

v1::ApproveGrantRequest FakeGateway::last_approve_grant() const {
  absl::MutexLock lock(&registry_->mutex_);
  return registry_->last_approve_grant_;
}

v1::SetGrantRateLimitRequest FakeGateway::last_set_grant_rate_limit() const {
  absl::MutexLock lock(&registry_->mutex_);
  return registry_->last_set_grant_rate_limit_;
}

v1::RegisterNodeRequest FakeGateway::last_register_node() const {
  absl::MutexLock lock(&registry_->mutex_);
  return registry_->last_register_node_;
}

void FakeGateway::set_unavailable(bool unavailable) {
  {
    absl::MutexLock lock(&registry_->mutex_);
    registry_->unavailable_ = unavailable;
  }
  absl::MutexLock lock(&exchange_->mutex_);
  exchange_->unavailable_ = unavailable;
}

int FakeGateway::register_node_calls() const {
  absl::MutexLock lock(&registry_->mutex_);
  return registry_->register_node_calls_;
}

std::vector<v1::QueryRequest> FakeGateway::queries() const {
  absl::MutexLock lock(&exchange_->mutex_);
  return exchange_->queries_;
}

}  // namespace ndx::cli

namespace ndx::cli {

void FakeGateway::AppendAuditEntries(int count) { audit_->Append(count); }

void FakeGateway::PublishAuditCheckpointAt(uint64_t size) { audit_->PublishAt(size); }

void FakeGateway::set_audit_faults(const AuditFaults& faults) {
  absl::MutexLock lock(&audit_->mutex_);
  audit_->faults_ = faults;
}

std::string FakeGateway::audit_verifier_key() const { return audit_->VerifierKey(); }

std::string FakeGateway::audit_entry_bytes(uint64_t sequence) const {
  absl::MutexLock lock(&audit_->mutex_);
  return audit_->entries_.at(sequence);
}

std::vector<v1::QueryEntriesRequest> FakeGateway::audit_queries() const {
  absl::MutexLock lock(&audit_->mutex_);
  return audit_->queries_;
}

std::vector<v1::GetCheckpointRequest> FakeGateway::checkpoint_requests() const {
  absl::MutexLock lock(&audit_->mutex_);
  return audit_->checkpoint_requests_;
}

v1::AuditEntry FakeGateway::AuditEntryAt(uint64_t sequence) {
  v1::AuditEntry entry;
  entry.set_sequence(sequence);
  entry.mutable_time()->set_seconds(1767225600 + static_cast<int64_t>(sequence) * 60);
  entry.set_request_id(absl::StrCat("req-", sequence));
  entry.set_caller(sequence % 2 == 0 ? "moh/insurance" : "moj/courts");
  entry.set_dataset("mops/residents");
  entry.set_operation("Get");
  entry.set_purpose("enrolment, \"phase 2\"");
  const bool denied = sequence % 3 == 2;
  entry.set_decision(denied ? v1::AuditEntry::DECISION_DENY : v1::AuditEntry::DECISION_ALLOW);
  entry.set_code(denied ? "PERMISSION_DENIED" : "OK");
  if (sequence == 3) {
    // A registry write: the owner approves a grant.
    entry.set_caller("mops/population");
    entry.set_operation("Registry.ApproveGrant");
    entry.clear_purpose();
    v1::RegistryChange* change = entry.mutable_change();
    change->set_grant_id("g-7");
    change->set_dataset_id("mops/residents");
    change->set_consumer("moh/insurance");
    change->add_fields("full_name");
    change->add_purposes("enrolment");
    change->add_operations(v1::OPERATION_READ);
    change->add_operations(v1::OPERATION_EXPORT);
    change->set_grant_state_before(v1::GRANT_STATE_REQUESTED);
    change->set_grant_state_after(v1::GRANT_STATE_APPROVED);
    entry.mutable_grant_rate_limit()->set_requests_per_second(5);
    entry.mutable_grant_rate_limit()->set_burst(10);
    return entry;
  }
  if (sequence == 5) {
    // 37 reads refused over the grant's rate limit within one second, in one entry.
    entry.set_code("RESOURCE_EXHAUSTED");
    entry.set_reason("grant g-7 of moh/insurance on mops/residents is over its rate limit");
    entry.set_grant_id("g-7");
    entry.set_refused_calls(37);
    entry.mutable_refused_until()->set_seconds(entry.time().seconds() + 1);
    return entry;
  }
  if (!denied) {
    entry.add_fields("full_name");
    entry.add_fields("birth_date");
  }
  return entry;
}

}  // namespace ndx::cli

namespace ndx::cli {

void FakeGateway::AppendEvents(int count) { events_->Append(count); }

void FakeGateway::set_expired_events(uint64_t first, uint64_t last, uint64_t retention_seconds) {
  absl::MutexLock lock(&events_->mutex_);
  events_->expired_.set_dataset(kEventsDataset);
  events_->expired_.set_first_sequence(first);
  events_->expired_.set_last_sequence(last);
  events_->expired_.set_retention_seconds(retention_seconds);
}

void FakeGateway::EndEventStreamsUnavailable(int count) {
  absl::MutexLock lock(&events_->mutex_);
  events_->unavailable_streams_ = count;
}

std::vector<v1::AckRequest> FakeGateway::event_acks() const {
  absl::MutexLock lock(&events_->mutex_);
  return events_->acks_;
}

std::vector<v1::SubscribeRequest> FakeGateway::subscribe_requests() const {
  absl::MutexLock lock(&events_->mutex_);
  return events_->subscribes_;
}

std::vector<v1::PublishRequest> FakeGateway::publish_requests() const {
  absl::MutexLock lock(&events_->mutex_);
  return events_->publishes_;
}

std::vector<v1::ListSubscriptionsRequest> FakeGateway::list_subscriptions_requests() const {
  absl::MutexLock lock(&events_->mutex_);
  return events_->lists_;
}

int FakeGateway::open_event_streams() const {
  absl::MutexLock lock(&events_->mutex_);
  return events_->open_streams_;
}

}  // namespace ndx::cli
