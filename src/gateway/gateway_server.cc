#include "gateway/gateway_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/decision_log.h"
#include "audit/refusal_tally.h"
#include "audit/tee_sink.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/hash.h"
#include "crypto/pki.h"
#include "crypto/sealer.h"
#include "crypto/signing.h"
#include "crypto/tls.h"
#include "events/event_store.h"
#include "events/jetstream_event_store.h"
#include "gateway/audited_call.h"
#include "gateway/metered_audit_sink.h"
#include "registry/etcd_registry.h"
#include "registry/rocksdb_registry.h"

namespace ndx::gateway {
namespace {

constexpr size_t kPseudonymKeyBytes = 32;
constexpr size_t kSealingKeyBytes = 32;
// Purposes of the keys derived from the sealing key (crypto::Sealer::Create).
constexpr char kPageTokenPurpose[] = "ndx page token v1";
constexpr char kEventKeyPurpose[] = "ndx event key v1";

// The checkpoint signing key, made on first start. LoadPem refuses a key file open to group or
// others: whoever could read it could sign checkpoints over a rewritten log.
absl::StatusOr<crypto::SigningKey> LoadOrCreateSigningKey(const std::string& path) {
  std::error_code error;
  const bool exists = std::filesystem::exists(path, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot stat the checkpoint signing key ", path, ": ", error.message()));
  }
  if (exists) return crypto::SigningKey::LoadPem(path);
  NDX_ASSIGN_OR_RETURN(crypto::SigningKey key, crypto::SigningKey::Generate());
  NDX_RETURN_IF_ERROR(key.SavePem(path));
  spdlog::warn("made a new audit checkpoint signing key at {}", path);
  return key;
}

// A key of `bytes` random bytes at `path` (`what` names it in messages), made on first start.
// Refused when group or others may read it: with the pseudonym key the audit log's pseudonyms
// lead back to citizen identifiers; with the sealing key page tokens and stored event keys open.
absl::StatusOr<std::string> LoadOrCreateRawKey(const std::string& path, absl::string_view what,
                                               size_t bytes) {
  std::error_code error;
  const bool exists = std::filesystem::exists(path, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot stat the ", what, " ", path, ": ", error.message()));
  }
  if (!exists) {
    NDX_RETURN_IF_ERROR(WriteFileAtomically(path, crypto::RandomBytes(bytes), 0600));
    spdlog::warn("made a new {} at {}", std::string(what), path);
  }
  NDX_ASSIGN_OR_RETURN(std::string key, ReadPrivateFile(path));
  if (key.size() < bytes) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " ", path, " has ", key.size(), " bytes; it needs ", bytes));
  }
  return key;
}

// The gRPC port's connection policy (docs/configuration.md, Connections): an idle connection is
// closed; a silent one is pinged, and closed when its peer does not answer; a client pinging more
// often than allowed, or at all while it has no call, is disconnected (GOAWAY too_many_pings);
// calls per connection are capped, further ones waiting in the client.
void ApplyTransportPolicy(const v1::TransportConfig& transport, grpc::ServerBuilder* builder) {
  auto arg = [builder](const char* name, uint32_t value) {
    builder->AddChannelArgument(name, static_cast<int>(value));
  };
  arg(GRPC_ARG_MAX_CONNECTION_IDLE_MS, transport.max_connection_idle_ms());
  if (transport.max_connection_age_ms() > 0) {
    arg(GRPC_ARG_MAX_CONNECTION_AGE_MS, transport.max_connection_age_ms());
    if (transport.max_connection_age_grace_ms() > 0) {
      arg(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, transport.max_connection_age_grace_ms());
    }
  }
  arg(GRPC_ARG_MAX_CONCURRENT_STREAMS, transport.max_concurrent_streams());
  arg(GRPC_ARG_KEEPALIVE_TIME_MS, transport.keepalive_time_ms());
  arg(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, transport.keepalive_timeout_ms());
  // gRPC's default stops the gateway's keepalive pings after two without data: a subscriber's
  // quiet stream would go unchecked.
  arg(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // An idle connection is closed anyway: pinging it keeps nothing alive.
  arg(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  arg(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      transport.min_client_ping_interval_ms());
  arg(GRPC_ARG_HTTP2_MAX_PING_STRIKES, transport.max_ping_strikes());
}

// The gateway's own identity, as the caller of what it does on its own (start-up changes).
std::string OwnIdentity(const v1::GatewayConfig& config) {
  absl::StatusOr<std::string> pem = ReadFile(config.tls().cert_file());
  if (pem.ok()) {
    absl::StatusOr<crypto::CertificateInfo> info = crypto::InspectCertificate(*pem);
    if (info.ok() && !info->uris.empty()) return info->uris.front();
  }
  return "gateway";
}

}  // namespace

absl::Status GatewayServer::BootstrapOperators(const v1::GatewayConfig& config) {
  std::vector<std::string> operators(config.bootstrap_operators().begin(),
                                     config.bootstrap_operators().end());
  // One audited call per start-up; each node it changes is recorded before the change applies.
  struct StartupRecorder final : registry::ChangeRecorder {
    StartupRecorder(audit::AuditSink& sink, std::string caller, uint64_t revision)
        : sink(sink), caller(std::move(caller)), revision(revision) {}
    absl::Status Record(const v1::RegistryChange& change) override {
      call.emplace(sink, Clock::Real(), "Registry.BootstrapOperators", revision);
      call->record().caller = caller;
      return call->Record(change);
    }
    void RecordFailure(const v1::RegistryChange& change, const absl::Status& failure) override {
      call->RecordFailure(change, failure);
    }
    audit::AuditSink& sink;
    const std::string caller;
    const uint64_t revision;
    std::optional<AuditedCall> call;
  };
  StartupRecorder recorder(*audit_, OwnIdentity(config), registry_->snapshot()->revision());
  NDX_ASSIGN_OR_RETURN(bool applied, admin_->BootstrapOperators(operators, recorder));
  if (!applied && !operators.empty()) {
    spdlog::info(
        "bootstrap_operators ignored: the registry already holds nodes, whose roles only "
        "operators change");
  }
  return absl::OkStatus();
}

absl::Status GatewayServer::OpenAudit(const v1::GatewayConfig& config) {
  const v1::AuditLogConfig& settings = config.audit();
  NDX_RETURN_IF_ERROR(MakePrivateDirectory(settings.dir()));
  audit::AuditLogOptions options;
  options.dir = settings.dir() + "/log";
  options.durability = settings.durability() == v1::DURABILITY_PROCESS_CRASH
                           ? audit::AuditLogOptions::Durability::kProcessCrash
                           : audit::AuditLogOptions::Durability::kPowerLoss;
  NDX_ASSIGN_OR_RETURN(
      options.pseudonym_key,
      LoadOrCreateRawKey(settings.pseudonym_key_file(), "audit pseudonym key", kPseudonymKeyBytes));
  options.clock = &Clock::Real();
  NDX_ASSIGN_OR_RETURN(std::unique_ptr<audit::AuditLog> log, audit::AuditLog::Open(options));
  audit_log_ = log.get();

  NDX_ASSIGN_OR_RETURN(crypto::SigningKey key, LoadOrCreateSigningKey(settings.signing_key_file()));
  audit::CheckpointerOptions checkpoints;
  checkpoints.origin = settings.origin();
  checkpoints.key_name = settings.origin();
  checkpoints.state_file = settings.dir() + "/checkpoint.note";
  checkpoints.interval = absl::Seconds(settings.checkpoint_interval_seconds());
  NDX_ASSIGN_OR_RETURN(checkpointer_,
                       audit::Checkpointer::Start(audit_log_, std::move(key), checkpoints));
  std::string verifier_key = checkpointer_->VerifierKeyText();
  NDX_RETURN_IF_ERROR(
      WriteFileAtomically(settings.dir() + "/verifier.key", verifier_key + "\n", 0644));
  spdlog::info("audit log at {} ({} entries, {}), verifier key {}", options.dir, audit_log_->size(),
               options.durability == audit::AuditLogOptions::Durability::kPowerLoss
                   ? "power-loss durable: each entry is synced before its answer"
                   : "process-crash durable: each entry reaches the OS before its answer",
               verifier_key);

  if (config.decision_log_file().empty()) {
    audit_ = std::move(log);
  } else {
    NDX_ASSIGN_OR_RETURN(std::unique_ptr<audit::DecisionLog> decisions,
                         audit::DecisionLog::Open(config.decision_log_file()));
    audit_ = std::make_unique<audit::TeeSink>(std::move(log), std::move(decisions));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const v1::GatewayConfig& config) {
  return StartWith(config, nullptr);
}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::StartForTest(
    const v1::GatewayConfig& config, AuditSinkWrapper wrap) {
  return StartWith(config, std::move(wrap));
}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::StartWith(
    const v1::GatewayConfig& config, AuditSinkWrapper wrap) {
  std::unique_ptr<GatewayServer> gateway(new GatewayServer());
  NDX_RETURN_IF_ERROR(gateway->OpenRegistry(config));
  gateway->admin_ =
      std::make_unique<registry::RegistryAdmin>(gateway->registry_.get(), &Clock::Real());
  NDX_RETURN_IF_ERROR(gateway->OpenAudit(config));
  if (wrap != nullptr) gateway->audit_ = wrap(std::move(gateway->audit_));
  // Refusals for overload become one entry per key and second instead of one each; the metered
  // sink in front still counts every call.
  gateway->audit_ = std::make_unique<audit::RefusalTally>(std::move(gateway->audit_),
                                                          audit::RefusalTallyOptions());
  if (!config.metrics().listen_address().empty()) {
    gateway->metrics_ = std::make_unique<GatewayMetrics>();
    gateway->audit_ =
        std::make_unique<MeteredAuditSink>(std::move(gateway->audit_), gateway->metrics_.get());
  }
  NDX_RETURN_IF_ERROR(gateway->BootstrapOperators(config));
  NDX_ASSIGN_OR_RETURN(
      std::string sealing_key,
      LoadOrCreateRawKey(config.sealing_key_file(), "sealing key", kSealingKeyBytes));
  NDX_ASSIGN_OR_RETURN(crypto::Sealer page_token_sealer,
                       crypto::Sealer::Create(sealing_key, kPageTokenPurpose));
  NDX_ASSIGN_OR_RETURN(crypto::Sealer event_key_sealer,
                       crypto::Sealer::Create(sealing_key, kEventKeyPurpose));
  gateway->page_tokens_ =
      std::make_unique<PageTokens>(std::move(page_token_sealer), &Clock::Real(),
                                   absl::Seconds(config.page_token_lifetime_seconds()));

  crypto::TlsFilePaths tls{config.tls().ca_file(), config.tls().cert_file(),
                           config.tls().key_file()};
  if (!config.crl_file().empty()) {
    NDX_ASSIGN_OR_RETURN(gateway->revocation_,
                         crypto::RevocationWatcher::Start(config.crl_file(), tls.ca_file));
  }
  const CallerPolicy callers{.trust_domain = config.trust_domain(),
                             .revocation = gateway->revocation_.get()};
  NDX_ASSIGN_OR_RETURN(
      std::shared_ptr<grpc::ServerCredentials> credentials,
      crypto::MakeServerCredentials(tls, config.trust_domain(), gateway->revocation_.get()));
  // The gateway is the adapters' client too: a certificate they would refuse is reported now
  // rather than on every read.
  NDX_RETURN_IF_ERROR(crypto::MakeChannelCredentials(tls, std::nullopt).status());
  gateway->expiry_ = std::make_unique<crypto::CertificateExpiryMonitor>(tls);
  gateway->grant_quotas_ =
      std::make_unique<GrantQuotas>(&Clock::Real(), config.grant_quotas().share());
  gateway->adapters_ = std::make_unique<AdapterPool>(tls, config.trust_domain(),
                                                     static_cast<int>(config.max_message_bytes()),
                                                     gateway->metrics_.get());
  gateway->node_limits_ = std::make_unique<NodeLimits>(NodeLimitsOptionsFrom(config.node_limits()));
  gateway->owner_guards_ =
      std::make_unique<OwnerGuards>(OwnerGuardOptionsFrom(config.owner_guard()), &Clock::Real());
  gateway->exchange_ = std::make_unique<ExchangeService>(
      ExchangeOptions{.callers = callers,
                      .adapter_timeout = absl::Milliseconds(config.adapter_timeout_ms()),
                      .default_page_size = static_cast<int>(config.default_page_size()),
                      .max_page_size = static_cast<int>(config.max_page_size()),
                      .grant_quotas = gateway->grant_quotas_.get(),
                      .node_limits = gateway->node_limits_.get(),
                      .owner_guards = gateway->owner_guards_.get()},
      gateway->registry_.get(), gateway->adapters_.get(), gateway->page_tokens_.get(),
      gateway->audit_.get(), &Clock::Real());
  gateway->registry_service_ =
      std::make_unique<RegistryService>(callers, gateway->registry_.get(), gateway->admin_.get(),
                                        gateway->audit_.get(), &Clock::Real());
  NDX_RETURN_IF_ERROR(gateway->JoinCluster(config, tls));
  gateway->audit_service_ = std::make_unique<AuditService>(
      callers, gateway->registry_.get(), gateway->audit_log_, gateway->checkpointer_.get(),
      gateway->audit_.get(), &Clock::Real(), gateway->node_limits_.get(),
      gateway->audit_peers_.get());

  NDX_RETURN_IF_ERROR(gateway->OpenEvents(config, std::move(event_key_sealer)));
  gateway->events_service_ = std::make_unique<EventsService>(
      EventsOptions{
          .callers = callers,
          .retention = absl::Seconds(static_cast<int64_t>(config.events().retention_seconds())),
          .expiry_interval = absl::Seconds(config.events().expiry_interval_seconds()),
          .node_limits = gateway->node_limits_.get()},
      gateway->events_.get(), gateway->registry_.get(), gateway->audit_.get(), &Clock::Real());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address(), credentials, &gateway->port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_bytes()));
  builder.SetMaxSendMessageSize(static_cast<int>(config.max_message_bytes()));
  // Channelz counts every call for a debugging service ndx does not serve (see AdapterPool).
  builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
  ApplyTransportPolicy(config.node_limits().transport(), &builder);
  builder.RegisterService(gateway->exchange_.get());
  builder.RegisterService(gateway->registry_service_.get());
  builder.RegisterService(gateway->audit_service_.get());
  builder.RegisterService(gateway->events_service_.get());
  gateway->server_ = builder.BuildAndStart();
  if (gateway->server_ == nullptr || gateway->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address(),
                     ": the address is in use or not local (see the log above)"));
  }
  if (config.has_json_api()) {
    const v1::JsonApiConfig& json_api = config.json_api();
    NDX_ASSIGN_OR_RETURN(
        gateway->json_api_,
        JsonApi::Start(
            http::ServerOptions{.listen_address = json_api.listen_address(),
                                .tls = tls,
                                .trust_domain = config.trust_domain(),
                                .revocation = gateway->revocation_.get(),
                                .threads = static_cast<int>(json_api.threads()),
                                .max_body_bytes = config.max_message_bytes(),
                                .idle_timeout = absl::Seconds(json_api.idle_timeout_seconds())},
            callers, gateway->exchange_.get(), gateway->registry_.get()));
    spdlog::info("REST/JSON API listening on {} (port {})", json_api.listen_address(),
                 gateway->json_api_->port());
  }
  spdlog::info("registry at {} (revision {}), trust domain {}", config.data_dir(),
               gateway->registry_->snapshot()->revision(), config.trust_domain());
  NDX_RETURN_IF_ERROR(gateway->StartMetrics(config, tls));
  return gateway;
}

absl::Status GatewayServer::OpenRegistry(const v1::GatewayConfig& config) {
  if (!config.has_cluster()) {
    NDX_ASSIGN_OR_RETURN(registry_, registry::OpenRocksDbRegistry(config.data_dir()));
    return absl::OkStatus();
  }
  const v1::ClusterConfig& cluster = config.cluster();
  const v1::TlsFiles& tls = cluster.etcd().tls();
  NDX_ASSIGN_OR_RETURN(
      etcd_,
      cluster::EtcdClient::Connect(cluster::EtcdOptions{
          .endpoints = {cluster.etcd().endpoints().begin(), cluster.etcd().endpoints().end()},
          .tls = {tls.ca_file(), tls.cert_file(), tls.key_file()}}));
  NDX_ASSIGN_OR_RETURN(
      registry_, registry::OpenEtcdRegistry(registry::EtcdRegistryOptions{
                     .etcd = etcd_.get(),
                     .prefix = cluster.etcd().prefix(),
                     // Apart from a single node's registry, whose revisions count differently.
                     .dir = config.data_dir() + "/registry-copy",
                     .staleness_bound = absl::Milliseconds(cluster.registry_staleness_ms())}));
  spdlog::info("replica {} of a cluster: registry in etcd at {} under {}, staleness bound {} ms",
               cluster.replica_id(), absl::StrJoin(cluster.etcd().endpoints(), ","),
               cluster.etcd().prefix(), cluster.registry_staleness_ms());
  return absl::OkStatus();
}

absl::Status GatewayServer::JoinCluster(const v1::GatewayConfig& config,
                                        const crypto::TlsFilePaths& tls) {
  if (!config.has_cluster()) return absl::OkStatus();
  const v1::ClusterConfig& cluster = config.cluster();
  // Joined before the port serves: the Audit service fans out over the members from its first
  // call, and a peer that calls this replica a moment early is told it is unavailable.
  NDX_ASSIGN_OR_RETURN(
      membership_, cluster::JoinCluster(
                       etcd_.get(), cluster::EtcdMembershipOptions{
                                        .prefix = cluster.etcd().prefix(),
                                        .self = {cluster.replica_id(), cluster.advertise_address()},
                                        .ttl = absl::Seconds(cluster.membership_ttl_seconds())}));
  NDX_ASSIGN_OR_RETURN(
      audit_peers_,
      AuditPeers::Create(
          {.membership = membership_.get(),
           .tls = tls,
           .gateway_identity = crypto::SpiffeId::Gateway(config.trust_domain(), "core"),
           .max_message_bytes = static_cast<int>(config.max_message_bytes())}));
  spdlog::info("replica {} joined its cluster at {}", cluster.replica_id(),
               cluster.advertise_address());
  return absl::OkStatus();
}

absl::Status GatewayServer::OpenEvents(const v1::GatewayConfig& config, crypto::Sealer key_sealer) {
  if (!config.has_cluster()) {
    NDX_ASSIGN_OR_RETURN(events_,
                         events::EventStore::Open(events::EventStoreOptions{
                             .dir = config.events().dir(),
                             .sync = config.audit().durability() != v1::DURABILITY_PROCESS_CRASH,
                             .key_sealer = std::move(key_sealer)}));
    spdlog::info("event store at {}, retention {} s", config.events().dir(),
                 config.events().retention_seconds());
    return absl::OkStatus();
  }
  const v1::NatsConfig& nats = config.cluster().nats();
  events::JetStreamEventStoreOptions options;
  options.urls.assign(nats.urls().begin(), nats.urls().end());
  options.ca_file = nats.tls().ca_file();
  options.cert_file = nats.tls().cert_file();
  options.key_file = nats.tls().key_file();
  options.stream_replicas = static_cast<int>(nats.stream_replicas());
  options.retention = absl::Seconds(static_cast<int64_t>(config.events().retention_seconds()));
  options.key_sealer = std::move(key_sealer);
  NDX_ASSIGN_OR_RETURN(events_, events::OpenJetStreamEventStore(options));
  spdlog::info("events in NATS JetStream at {} ({} replicas per stream), retention {} s",
               absl::StrJoin(nats.urls(), ","), nats.stream_replicas(),
               config.events().retention_seconds());
  return absl::OkStatus();
}

absl::Status GatewayServer::StartMetrics(const v1::GatewayConfig& config,
                                         const crypto::TlsFilePaths& tls) {
  if (metrics_ == nullptr) return absl::OkStatus();
  state_metrics_ = std::make_unique<GatewayStateCollector>(
      GatewayState{.registry = registry_.get(),
                   .audit_log = audit_log_,
                   .audit_log_dir = config.audit().dir() + "/log",
                   .checkpointer = checkpointer_.get(),
                   .events = events_.get()});
  owner_guard_metrics_ = std::make_unique<OwnerGuardCollector>(owner_guards_.get());
  certificate_metrics_ = std::make_unique<metrics::CertificateCollector>(tls);
  NDX_ASSIGN_OR_RETURN(
      metrics_server_,
      metrics::MetricsServer::Start({.config = config.metrics(),
                                     .tls = tls,
                                     .trust_domain = config.trust_domain(),
                                     .revocation = revocation_.get()},
                                    {&metrics_->registry(), state_metrics_.get(),
                                     owner_guard_metrics_.get(), certificate_metrics_.get()}));
  spdlog::info("metrics at https://{}/metrics (port {}), for {}", config.metrics().listen_address(),
               metrics_server_->port(), absl::StrJoin(config.metrics().scrapers(), ", "));
  return absl::OkStatus();
}

GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

void GatewayServer::Shutdown(absl::Duration grace) {
  if (metrics_server_ != nullptr) metrics_server_->Stop();
  if (server_ == nullptr) return;
  // Drain the reads in flight ourselves, then stop at once: gRPC 1.51's Shutdown(deadline) waits
  // out the whole deadline while any client keeps an idle connection open, which every consumer
  // with a pooled channel does.
  server_->GetHealthCheckService()->Shutdown();
  // Its requests wait for their reads, so this also lets them finish.
  if (json_api_ != nullptr) json_api_->Stop();
  absl::Time give_up = absl::Now() + grace;
  while (exchange_->in_flight() > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  // Streams end at once unless a write is outstanding; a second is plenty for that.
  events_service_->EndStreams(std::min(grace, absl::Seconds(1)));
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  server_.reset();
}

}  // namespace ndx::gateway
