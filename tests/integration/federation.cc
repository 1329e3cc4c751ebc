#include "integration/federation.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace ndx::testing {
namespace {

constexpr char kTrustDomain[] = "ndx.test";

absl::Status CallStatus(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

}  // namespace

void SetTimeout(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

namespace {

// The certificate the server presented to a call that ended, as PEM.
std::string ServerCertificate(const grpc::ClientContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  std::vector<grpc::string_ref> pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  return pems.empty() ? "" : std::string(pems[0].data(), pems[0].size());
}

}  // namespace

grpc::Status GetResident(v1::Exchange::Stub& exchange, const std::string& key,
                         const std::string& purpose, v1::GetResponse* response,
                         std::string* server_pem) {
  v1::GetRequest request;
  request.set_dataset(kResidents);
  request.set_key(key);
  request.set_purpose(purpose);
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::GetResponse ignored;
  grpc::Status status = exchange.Get(&context, request, response != nullptr ? response : &ignored);
  if (server_pem != nullptr) *server_pem = ServerCertificate(context);
  return status;
}

grpc::Status FetchResident(const std::string& endpoint, const crypto::TlsFilePaths& files,
                           const std::string& key, std::string* server_pem) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto adapter =
      v1::Adapter::NewStub(grpc::CreateCustomChannel(endpoint, PresentingAsIs(files), args));
  v1::FetchRequest request;
  request.set_dataset(kResidents);
  request.set_key(key);
  request.add_fields("full_name");
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::FetchResponse response;
  grpc::Status status = adapter->Fetch(&context, request, &response);
  if (server_pem != nullptr) *server_pem = ServerCertificate(context);
  return status;
}

Federation::Federation() : pki_() {}

std::string Federation::gateway_address() const {
  return absl::StrCat("127.0.0.1:", gateway_port_);
}

std::string Federation::population_endpoint() const {
  return absl::StrCat("127.0.0.1:", adapter_port_);
}

absl::StatusOr<v1::Grant> Federation::RevokeGrant(const std::string& owner,
                                                  const std::string& grant_id,
                                                  const std::string& reason) {
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::RevokeGrantRequest request;
  request.set_grant_id(grant_id);
  request.set_reason(reason);
  v1::Grant grant;
  NDX_RETURN_IF_ERROR(
      CallStatus(RegistryAs(owner)->RevokeGrant(&context, request, &grant), "RevokeGrant"));
  return grant;
}

std::string Federation::WriteProfile(const std::string& node_id) {
  crypto::TlsFilePaths tls = pki_.Node(node_id);
  std::string path =
      dir_.Join(absl::StrCat(absl::StrReplaceAll(node_id, {{"/", "-"}}), ".profile.textproto"));
  absl::Status written = WriteFileAtomically(
      path,
      absl::StrCat("gateway: \"", gateway_address(), "\"\ngateway_id: \"core\"\n",
                   "tls { ca_file: \"", tls.ca_file, "\" cert_file: \"", tls.cert_file,
                   "\" key_file: \"", tls.key_file, "\" }\n"),
      0644);
  EXPECT_TRUE(written.ok()) << written;
  return path;
}

std::string Federation::DecisionLog() const {
  return ReadFile(dir_.Join("decisions.jsonl")).value_or("");
}

std::string Federation::GatewayLog() const {
  return ReadFile(dir_.Join("gateway.log")).value_or("");
}

std::string Federation::AdapterLog() const {
  return ReadFile(dir_.Join("adapter.log")).value_or("");
}

absl::StatusOr<std::string> Federation::WriteGatewayConfig(absl::Duration adapter_timeout,
                                                           int max_message_bytes,
                                                           const std::string& extra_config) {
  crypto::TlsFilePaths tls = pki_.Gateway("core");
  std::string config = absl::StrCat(
      "listen_address: \"127.0.0.1:", gateway_port_, "\"\n",  // reuse the port after a restart
      "trust_domain: \"", kTrustDomain, "\"\n", "tls { ca_file: \"", tls.ca_file,
      "\" cert_file: \"", tls.cert_file, "\" key_file: \"", tls.key_file, "\" }\n",
      "data_dir: \"registry\"\n", "decision_log_file: \"decisions.jsonl\"\n",
      "bootstrap_operators: \"", kOperatorNode, "\"\n",
      "adapter_timeout_ms: ", absl::ToInt64Milliseconds(adapter_timeout), "\n",
      max_message_bytes > 0 ? absl::StrCat("max_message_bytes: ", max_message_bytes, "\n") : "",
      MetricsConfig(), extra_config);
  std::string config_path = dir_.Join("gateway.textproto");
  NDX_RETURN_IF_ERROR(WriteFileAtomically(config_path, config, 0644));
  return config_path;
}

std::vector<std::string> Federation::GatewayArgs(const std::string& config_path,
                                                 const std::string& port_file) const {
  std::vector<std::string> args = {"--config", config_path, "--port_file", port_file};
  args.insert(args.end(), gateway_flags_.begin(), gateway_flags_.end());
  return args;
}

std::string Federation::MetricsConfig() const {
  if (metrics_scrapers_.empty()) return "";
  std::string config = "metrics { listen_address: \"127.0.0.1:0\"";
  for (const std::string& scraper : metrics_scrapers_) {
    absl::StrAppend(&config, " scrapers: \"", scraper, "\"");
  }
  return config + " }\n";
}

absl::StatusOr<int> Federation::MetricsPort(const std::string& metrics_port_file,
                                            ChildProcess* process) {
  if (metrics_scrapers_.empty()) return 0;
  return WaitForPortFile(metrics_port_file, absl::Seconds(20), process);
}

absl::Status Federation::StartGateway(absl::Duration adapter_timeout, int max_message_bytes,
                                      const std::string& extra_config) {
  gateway_.reset();
  NDX_ASSIGN_OR_RETURN(std::string config_path,
                       WriteGatewayConfig(adapter_timeout, max_message_bytes, extra_config));
  std::string port_file = dir_.Join(absl::StrCat("gateway.port.", ++gateway_starts_));
  std::vector<std::string> args = GatewayArgs(config_path, port_file);
  const std::string metrics_port_file = port_file + ".metrics";
  if (!metrics_scrapers_.empty()) {
    args.insert(args.end(), {"--metrics_port_file", metrics_port_file});
  }
  NDX_ASSIGN_OR_RETURN(ChildProcess process,
                       ChildProcess::Start(NDX_GATEWAY_BIN, args, dir_.Join("gateway.log")));
  gateway_.emplace(std::move(process));
  absl::StatusOr<int> port = WaitForPortFile(port_file, absl::Seconds(20), &*gateway_);
  if (!port.ok()) {
    return absl::UnavailableError(
        absl::StrCat("gateway did not start: ", ReadFile(dir_.Join("gateway.log")).value_or("")));
  }
  gateway_port_ = *port;
  NDX_ASSIGN_OR_RETURN(gateway_metrics_port_, MetricsPort(metrics_port_file, &*gateway_));
  return absl::OkStatus();
}

absl::Status Federation::WritePopulationDatabase() {
  std::string path = dir_.Join("population.db");
  if (ReadFile(path).ok()) return absl::OkStatus();
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return absl::InternalError("cannot create population.db");
  }
  const char* sql = kPopulationSql;
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  if (rc != SQLITE_OK) return absl::InternalError(absl::StrCat("population.db: ", message));
  return absl::OkStatus();
}

absl::Status Federation::StartPopulationAdapter(const std::string& extra_config) {
  adapter_.reset();
  NDX_RETURN_IF_ERROR(WritePopulationDatabase());
  NDX_RETURN_IF_ERROR(WriteFileAtomically(dir_.Join("resident.proto"), kResidentProto, 0644));
  crypto::TlsFilePaths tls = pki_.Node(kPopulationNode);
  std::string config = absl::StrCat(
      "listen_address: \"127.0.0.1:", adapter_port_, "\"\n", "trust_domain: \"", kTrustDomain,
      "\"\n", "tls { ca_file: \"", tls.ca_file, "\" cert_file: \"", tls.cert_file,
      "\" key_file: \"", tls.key_file, "\" }\n", "allowed_gateways: \"core\"\n",
      "datasets {\n  dataset: \"", kResidents, "\"\n  proto_file: \"resident.proto\"\n",
      "  message_type: \"population.v1.Resident\"\n  key_field: \"citizen_id\"\n", "  ",
      population_backend_, "\n  table: \"residents\"\n}\n", MetricsConfig(), extra_config);
  std::string config_path = dir_.Join("adapter.textproto");
  NDX_RETURN_IF_ERROR(WriteFileAtomically(config_path, config, 0644));
  std::string port_file = dir_.Join(absl::StrCat("adapter.port.", ++adapter_starts_));
  std::vector<std::string> args = {"--config", config_path, "--port_file", port_file};
  const std::string metrics_port_file = port_file + ".metrics";
  if (!metrics_scrapers_.empty()) {
    args.insert(args.end(), {"--metrics_port_file", metrics_port_file});
  }
  NDX_ASSIGN_OR_RETURN(ChildProcess process,
                       ChildProcess::Start(NDX_ADAPTER_BIN, args, dir_.Join("adapter.log")));
  adapter_.emplace(std::move(process));
  absl::StatusOr<int> port = WaitForPortFile(port_file, absl::Seconds(20), &*adapter_);
  if (!port.ok()) {
    return absl::UnavailableError(
        absl::StrCat("adapter did not start: ", ReadFile(dir_.Join("adapter.log")).value_or("")));
  }
  adapter_port_ = *port;
  NDX_ASSIGN_OR_RETURN(adapter_metrics_port_, MetricsPort(metrics_port_file, &*adapter_));
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> Federation::ChannelWith(const crypto::TlsFilePaths& files) {
  auto credentials =
      crypto::MakeChannelCredentials(files, crypto::SpiffeId::Gateway(kTrustDomain, "core"));
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  grpc::ChannelArguments args;
  // Each test channel is its own connection, so that one identity never reuses another's.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(gateway_address(), *credentials, args);
}

std::shared_ptr<grpc::Channel> Federation::ChannelAs(const std::string& node_id) {
  return ChannelWith(pki_.Node(node_id));
}

std::unique_ptr<v1::Exchange::Stub> Federation::ExchangeAs(const std::string& node_id) {
  return v1::Exchange::NewStub(ChannelAs(node_id));
}

std::unique_ptr<v1::Registry::Stub> Federation::RegistryAs(const std::string& node_id) {
  return v1::Registry::NewStub(ChannelAs(node_id));
}

absl::Status Federation::RegisterNodesAndResidents(std::optional<std::string> adapter_endpoint) {
  auto operator_stub = RegistryAs(kOperatorNode);
  struct NodeSpec {
    const char* id;
    const char* name;
    v1::NodeKind kind;
    std::string endpoint;
  };
  std::vector<NodeSpec> nodes = {
      {kPopulationNode, "Population register", v1::NODE_KIND_MINISTRY,
       adapter_endpoint.value_or(population_endpoint())},
      {kInsuranceNode, "Health insurance", v1::NODE_KIND_MINISTRY, ""},
      {kCivilNode, "Civil status", v1::NODE_KIND_MINISTRY, ""},
  };
  for (const NodeSpec& spec : nodes) {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::RegisterNodeRequest request;
    request.mutable_node()->set_id(spec.id);
    request.mutable_node()->set_display_name(spec.name);
    request.mutable_node()->set_kind(spec.kind);
    request.mutable_node()->set_adapter_endpoint(spec.endpoint);
    v1::Node node;
    NDX_RETURN_IF_ERROR(CallStatus(operator_stub->RegisterNode(&context, request, &node),
                                   absl::StrCat("RegisterNode ", spec.id)));
  }
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::RegisterDatasetRequest request;
  request.set_id(kResidents);
  request.set_proto_file_name("resident.proto");
  request.set_proto_source(kResidentProto);
  request.set_message_type("population.v1.Resident");
  request.set_key_field("citizen_id");
  request.set_subject_field("citizen_id");
  request.set_description("Permanent residents");
  v1::Dataset dataset;
  return CallStatus(RegistryAs(kPopulationNode)->RegisterDataset(&context, request, &dataset),
                    "RegisterDataset");
}

absl::Status Federation::RegisterAuditor() {
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::RegisterNodeRequest request;
  request.mutable_node()->set_id(kAuditorNode);
  request.mutable_node()->set_display_name("State audit office");
  request.mutable_node()->set_kind(v1::NODE_KIND_OTHER);
  request.mutable_node()->add_roles(v1::ROLE_AUDITOR);
  v1::Node node;
  return CallStatus(RegistryAs(kOperatorNode)->RegisterNode(&context, request, &node),
                    "RegisterNode ndx/audit");
}

absl::StatusOr<v1::Grant> Federation::Grant(const std::string& consumer, const std::string& dataset,
                                            const std::vector<std::string>& fields,
                                            const std::vector<std::string>& purposes,
                                            absl::Duration valid_for, bool approve,
                                            const std::vector<v1::Operation>& operations) {
  v1::RequestGrantRequest request;
  request.set_dataset(dataset);
  for (const std::string& field : fields) request.add_fields(field);
  for (const std::string& purpose : purposes) request.add_purposes(purpose);
  for (v1::Operation operation : operations) request.add_operations(operation);
  *request.mutable_expires_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(
      absl::ToUnixSeconds(absl::Now() + valid_for));
  request.set_justification("integration test");
  v1::Grant grant;
  {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    NDX_RETURN_IF_ERROR(
        CallStatus(RegistryAs(consumer)->RequestGrant(&context, request, &grant), "RequestGrant"));
  }
  if (!approve) return grant;
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::ApproveGrantRequest approval;
  approval.set_grant_id(grant.id());
  // The owner of every dataset in these tests is the population node.
  NDX_RETURN_IF_ERROR(CallStatus(
      RegistryAs(kPopulationNode)->ApproveGrant(&context, approval, &grant), "ApproveGrant"));
  return grant;
}

}  // namespace ndx::testing
