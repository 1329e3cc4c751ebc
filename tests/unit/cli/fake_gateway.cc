#include "fake_gateway.h"

#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/schema.h"
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
    return grpc::Status::OK;
  }

  mutable absl::Mutex mutex_;
  v1::RegisterNodeRequest last_register_node_ ABSL_GUARDED_BY(mutex_);
  v1::RegisterDatasetRequest last_register_dataset_ ABSL_GUARDED_BY(mutex_);
  v1::RequestGrantRequest last_request_grant_ ABSL_GUARDED_BY(mutex_);
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
  std::vector<v1::QueryRequest> queries_ ABSL_GUARDED_BY(mutex_);
};

FakeGateway::FakeGateway(testing::TestPki& pki)
    : pki_(pki),
      registry_(std::make_unique<RegistryImpl>()),
      exchange_(std::make_unique<ExchangeImpl>()) {
  auto credentials = crypto::MakeServerCredentials(pki_.Gateway("core"));
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
  builder.RegisterService(registry_.get());
  builder.RegisterService(exchange_.get());
  server_ = builder.BuildAndStart();
  EXPECT_NE(server_, nullptr);
  EXPECT_GT(port_, 0);
}

FakeGateway::~FakeGateway() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
}

std::string FakeGateway::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::vector<std::string> FakeGateway::FlagsAs(const std::string& node_id) {
  crypto::TlsFilePaths tls = pki_.Node(node_id);
  return {"--gateway", address(),     "--ca",  tls.ca_file,
          "--cert",    tls.cert_file, "--key", tls.key_file};
}

v1::RegisterDatasetRequest FakeGateway::last_register_dataset() const {
  absl::MutexLock lock(&registry_->mutex_);
  return registry_->last_register_dataset_;
}

v1::RequestGrantRequest FakeGateway::last_request_grant() const {
  absl::MutexLock lock(&registry_->mutex_);
  return registry_->last_request_grant_;
}

v1::RegisterNodeRequest FakeGateway::last_register_node() const {
  absl::MutexLock lock(&registry_->mutex_);
  return registry_->last_register_node_;
}

std::vector<v1::QueryRequest> FakeGateway::queries() const {
  absl::MutexLock lock(&exchange_->mutex_);
  return exchange_->queries_;
}

}  // namespace ndx::cli
