#include "gateway/gateway_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/checkpoint.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "gateway/latency_estimate.h"
#include "gateway/node_limits.h"
#include "gateway/owner_guard.h"
#include "metrics/metrics_config.h"

namespace ndx::gateway {
namespace {

constexpr uint32_t kDefaultMaxMessageBytes = 4 << 20;
constexpr uint32_t kDefaultAdapterTimeoutMs = 5000;
constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kDefaultMaxPageSize = 1000;
constexpr uint64_t kDefaultEventRetentionSeconds = 7 * 24 * 3600;
constexpr uint32_t kDefaultEventExpiryIntervalSeconds = 60;
constexpr uint32_t kDefaultPageTokenLifetimeSeconds = 3600;
constexpr uint32_t kDefaultJsonApiThreads = 16;
constexpr uint32_t kMaxJsonApiThreads = 1024;
constexpr uint32_t kDefaultJsonApiIdleTimeoutSeconds = 30;

absl::Status Invalid(const std::string& origin, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(origin, ": ", message));
}

// The gRPC port's connection policy (TransportConfig).
constexpr uint32_t kDefaultMaxConnectionIdleMs = 60'000;
constexpr uint32_t kDefaultMaxConcurrentStreams = 100;
constexpr uint32_t kDefaultKeepaliveTimeMs = 60'000;
constexpr uint32_t kDefaultKeepaliveTimeoutMs = 20'000;
constexpr uint32_t kDefaultMinClientPingIntervalMs = 30'000;
constexpr uint32_t kDefaultMaxPingStrikes = 2;
// Caps larger than this are typos: the gateway could not hold that much.
constexpr uint32_t kMaxCap = 1'000'000;
// gRPC takes its channel arguments as int.
constexpr uint32_t kMaxMilliseconds = 0x7fffffff;

// Sets `*value` to `fallback` when 0; kInvalidArgument naming `setting` above `max`.
absl::Status DefaultAndBound(const std::string& origin, absl::string_view setting,
                             uint32_t fallback, uint32_t max, uint32_t* value) {
  if (*value == 0) *value = fallback;
  if (*value > max) {
    return Invalid(origin, absl::StrCat(setting, " ", *value, " is larger than ", max));
  }
  return absl::OkStatus();
}

absl::Status FinishNodeCaps(const std::string& origin, const std::string& prefix,
                            const NodeCapValues& defaults, v1::NodeCaps* caps) {
  uint32_t values[] = {caps->calls(), caps->streams(), caps->subscriptions(), caps->connections()};
  const std::pair<const char*, int> settings[] = {{"calls", defaults.calls},
                                                  {"streams", defaults.streams},
                                                  {"subscriptions", defaults.subscriptions},
                                                  {"connections", defaults.connections}};
  for (size_t i = 0; i < std::size(values); ++i) {
    NDX_RETURN_IF_ERROR(DefaultAndBound(origin, absl::StrCat(prefix, settings[i].first),
                                        static_cast<uint32_t>(settings[i].second), kMaxCap,
                                        &values[i]));
  }
  caps->set_calls(values[0]);
  caps->set_streams(values[1]);
  caps->set_subscriptions(values[2]);
  caps->set_connections(values[3]);
  return absl::OkStatus();
}

absl::Status FinishNodeLimits(const std::string& origin, v1::NodeLimitsConfig* limits) {
  NDX_RETURN_IF_ERROR(
      FinishNodeCaps(origin, "node_limits.defaults.", NodeCapValues{}, limits->mutable_defaults()));
  const v1::NodeCaps& filled = limits->defaults();
  const NodeCapValues defaults{.calls = static_cast<int>(filled.calls()),
                               .streams = static_cast<int>(filled.streams()),
                               .subscriptions = static_cast<int>(filled.subscriptions()),
                               .connections = static_cast<int>(filled.connections())};
  for (auto& [node, caps] : *limits->mutable_nodes()) {
    absl::Status valid = ValidateNodeId(node);
    if (!valid.ok()) {
      return Invalid(origin, absl::StrCat("node_limits.nodes: ", valid.message()));
    }
    NDX_RETURN_IF_ERROR(FinishNodeCaps(origin, absl::StrCat("node_limits.nodes[\"", node, "\"]."),
                                       defaults, &caps));
  }
  v1::TransportConfig* transport = limits->mutable_transport();
  uint32_t values[] = {
      transport->max_connection_idle_ms(),      transport->max_concurrent_streams(),
      transport->keepalive_time_ms(),           transport->keepalive_timeout_ms(),
      transport->min_client_ping_interval_ms(), transport->max_ping_strikes()};
  const std::pair<const char*, uint32_t> settings[] = {
      {"max_connection_idle_ms", kDefaultMaxConnectionIdleMs},
      {"max_concurrent_streams", kDefaultMaxConcurrentStreams},
      {"keepalive_time_ms", kDefaultKeepaliveTimeMs},
      {"keepalive_timeout_ms", kDefaultKeepaliveTimeoutMs},
      {"min_client_ping_interval_ms", kDefaultMinClientPingIntervalMs},
      {"max_ping_strikes", kDefaultMaxPingStrikes}};
  for (size_t i = 0; i < std::size(values); ++i) {
    NDX_RETURN_IF_ERROR(DefaultAndBound(origin,
                                        absl::StrCat("node_limits.transport.", settings[i].first),
                                        settings[i].second, kMaxMilliseconds, &values[i]));
  }
  transport->set_max_connection_idle_ms(values[0]);
  transport->set_max_concurrent_streams(values[1]);
  transport->set_keepalive_time_ms(values[2]);
  transport->set_keepalive_timeout_ms(values[3]);
  transport->set_min_client_ping_interval_ms(values[4]);
  transport->set_max_ping_strikes(values[5]);
  // 0 is "no age limit" and "no limit to the grace" here, as in gRPC.
  if (transport->max_connection_age_ms() > kMaxMilliseconds ||
      transport->max_connection_age_grace_ms() > kMaxMilliseconds) {
    return Invalid(origin, absl::StrCat("node_limits.transport.max_connection_age_ms and "
                                        "max_connection_age_grace_ms are at most ",
                                        kMaxMilliseconds));
  }
  return absl::OkStatus();
}

absl::Status FinishOwnerGuard(const std::string& origin, v1::OwnerGuardConfig* guard) {
  const OwnerGuardOptions defaults;
  uint32_t max_in_flight = guard->max_in_flight();
  NDX_RETURN_IF_ERROR(DefaultAndBound(origin, "owner_guard.max_in_flight",
                                      static_cast<uint32_t>(defaults.max_in_flight), kMaxCap,
                                      &max_in_flight));
  guard->set_max_in_flight(max_in_flight);
  for (auto& [owner, cap] : *guard->mutable_max_in_flight_by_owner()) {
    absl::Status valid = ValidateNodeId(owner);
    if (!valid.ok()) {
      return Invalid(origin, absl::StrCat("owner_guard.max_in_flight_by_owner: ", valid.message()));
    }
    NDX_RETURN_IF_ERROR(
        DefaultAndBound(origin, absl::StrCat("owner_guard.max_in_flight_by_owner[\"", owner, "\"]"),
                        max_in_flight, kMaxCap, &cap));
  }
  uint32_t share = guard->caller_share_percent();
  NDX_RETURN_IF_ERROR(DefaultAndBound(origin, "owner_guard.caller_share_percent",
                                      static_cast<uint32_t>(defaults.caller_share_percent), 100,
                                      &share));
  guard->set_caller_share_percent(share);
  v1::CircuitConfig* circuit = guard->mutable_circuit();
  uint32_t failures = circuit->failures_to_open();
  NDX_RETURN_IF_ERROR(DefaultAndBound(origin, "owner_guard.circuit.failures_to_open",
                                      static_cast<uint32_t>(defaults.circuit.failures_to_open),
                                      kMaxCap, &failures));
  circuit->set_failures_to_open(failures);
  uint32_t open_ms = circuit->open_ms();
  NDX_RETURN_IF_ERROR(
      DefaultAndBound(origin, "owner_guard.circuit.open_ms",
                      static_cast<uint32_t>(absl::ToInt64Milliseconds(defaults.circuit.open_for)),
                      kMaxMilliseconds, &open_ms));
  circuit->set_open_ms(open_ms);
  v1::DeadlineSheddingConfig* shedding = guard->mutable_deadline_shedding();
  uint32_t min_samples = shedding->min_samples();
  NDX_RETURN_IF_ERROR(DefaultAndBound(origin, "owner_guard.deadline_shedding.min_samples",
                                      static_cast<uint32_t>(defaults.shedding.min_samples),
                                      LatencyEstimate::kCapacity, &min_samples));
  shedding->set_min_samples(min_samples);
  uint32_t window = shedding->window_seconds();
  NDX_RETURN_IF_ERROR(DefaultAndBound(
      origin, "owner_guard.deadline_shedding.window_seconds",
      static_cast<uint32_t>(absl::ToInt64Seconds(defaults.shedding.window)), 86'400, &window));
  shedding->set_window_seconds(window);
  return absl::OkStatus();
}

// Cluster settings (ClusterConfig); only for a replica of a cluster.
constexpr uint32_t kDefaultRegistryStalenessMs = 5000;
constexpr uint32_t kMaxRegistryStalenessMs = 600'000;
constexpr uint32_t kDefaultMembershipTtlSeconds = 5;
constexpr uint32_t kMaxMembershipTtlSeconds = 300;
constexpr uint32_t kDefaultStreamReplicas = 3;
constexpr uint32_t kMaxStreamReplicas = 5;
constexpr size_t kMaxReplicaIdBytes = 64;

bool HasAllTlsFiles(const v1::TlsFiles& tls) {
  return !tls.ca_file().empty() && !tls.cert_file().empty() && !tls.key_file().empty();
}

absl::Status FinishClusterConfig(const std::string& origin, v1::GatewayConfig* config) {
  v1::ClusterConfig* cluster = config->mutable_cluster();
  const std::string& id = cluster->replica_id();
  bool id_ok = !id.empty() && id.size() <= kMaxReplicaIdBytes;
  for (char c : id) id_ok = id_ok && (absl::ascii_isalnum(c) || c == '-' || c == '_');
  if (!id_ok) {
    return Invalid(origin, absl::StrCat("cluster.replica_id \"", absl::CHexEscape(id),
                                        "\" must be 1 to ", kMaxReplicaIdBytes,
                                        " letters, digits, '-' or '_', unique in the cluster, "
                                        "e.g. \"gw-1\""));
  }
  if (cluster->advertise_address().empty()) {
    cluster->set_advertise_address(config->listen_address());
  }
  if (absl::EndsWith(cluster->advertise_address(), ":0")) {
    return Invalid(origin,
                   absl::StrCat("cluster.advertise_address \"", cluster->advertise_address(),
                                "\" (by default listen_address) needs a port other than "
                                "0: the other replicas call this one there"));
  }
  v1::EtcdConfig* etcd = cluster->mutable_etcd();
  if (etcd->endpoints().empty()) {
    return Invalid(origin,
                   "cluster.etcd.endpoints is required: the etcd members' client "
                   "addresses, e.g. \"10.0.0.1:2379\"");
  }
  if (!HasAllTlsFiles(etcd->tls())) {
    return Invalid(origin,
                   "cluster.etcd.tls { ca_file cert_file key_file } are all required: an "
                   "identity of the cluster CA (docs/cluster.md)");
  }
  if (etcd->prefix().empty()) etcd->set_prefix("/ndx/");
  if (etcd->prefix().front() != '/' || etcd->prefix().back() != '/') {
    return Invalid(origin, absl::StrCat("cluster.etcd.prefix \"", absl::CHexEscape(etcd->prefix()),
                                        "\" must start and end with '/', e.g. \"/ndx/\""));
  }
  uint32_t staleness = cluster->registry_staleness_ms();
  NDX_RETURN_IF_ERROR(DefaultAndBound(origin, "cluster.registry_staleness_ms",
                                      kDefaultRegistryStalenessMs, kMaxRegistryStalenessMs,
                                      &staleness));
  cluster->set_registry_staleness_ms(staleness);
  uint32_t ttl = cluster->membership_ttl_seconds();
  NDX_RETURN_IF_ERROR(DefaultAndBound(origin, "cluster.membership_ttl_seconds",
                                      kDefaultMembershipTtlSeconds, kMaxMembershipTtlSeconds,
                                      &ttl));
  cluster->set_membership_ttl_seconds(ttl);
  {
    v1::NatsConfig* nats = cluster->mutable_nats();
    // Events published through one replica are delivered by any: they must live in NATS.
    if (nats->urls().empty()) {
      return Invalid(origin,
                     "cluster.nats.urls is required: the NATS servers' client URLs, e.g. "
                     "\"tls://10.0.0.1:4222\"");
    }
    if (!HasAllTlsFiles(nats->tls())) {
      return Invalid(origin,
                     "cluster.nats.tls { ca_file cert_file key_file } are all required: "
                     "an identity of the cluster CA (docs/cluster.md)");
    }
    uint32_t replicas = nats->stream_replicas();
    NDX_RETURN_IF_ERROR(DefaultAndBound(origin, "cluster.nats.stream_replicas",
                                        kDefaultStreamReplicas, kMaxStreamReplicas, &replicas));
    nats->set_stream_replicas(replicas);
  }
  // Each replica keeps its own log, which its checkpoints must name apart from the others'.
  v1::AuditLogConfig* audit = config->mutable_audit();
  if (audit->origin().empty()) {
    audit->set_origin(absl::StrCat(config->trust_domain(), "/audit/", id));
  }
  return absl::OkStatus();
}

void ResolveTlsPaths(const std::string& path, v1::TlsFiles* tls) {
  tls->set_ca_file(ResolvePath(tls->ca_file(), path));
  tls->set_cert_file(ResolvePath(tls->cert_file(), path));
  tls->set_key_file(ResolvePath(tls->key_file(), path));
}

}  // namespace

absl::Status FinishGatewayConfig(const std::string& origin, v1::GatewayConfig* config) {
  if (config->listen_address().empty()) {
    return Invalid(origin, "listen_address is required, e.g. \"127.0.0.1:8443\"");
  }
  if (!ValidateTrustDomain(config->trust_domain()).ok()) {
    return Invalid(origin, absl::StrCat("trust_domain \"", config->trust_domain(),
                                        "\" is missing or malformed, e.g. \"ndx.gov.vn\""));
  }
  if (config->tls().ca_file().empty() || config->tls().cert_file().empty() ||
      config->tls().key_file().empty()) {
    return Invalid(origin, "tls { ca_file cert_file key_file } are all required");
  }
  if (config->data_dir().empty()) return Invalid(origin, "data_dir is required");
  for (const std::string& id : config->bootstrap_operators()) {
    absl::Status valid = ValidateNodeId(id);
    if (!valid.ok()) return Invalid(origin, absl::StrCat("bootstrap_operators: ", valid.message()));
  }
  if (config->max_message_bytes() == 0) config->set_max_message_bytes(kDefaultMaxMessageBytes);
  if (config->max_message_bytes() > (1u << 30)) {
    return Invalid(origin, "max_message_bytes is larger than 1 GiB");
  }
  if (config->adapter_timeout_ms() == 0) config->set_adapter_timeout_ms(kDefaultAdapterTimeoutMs);
  if (config->max_page_size() == 0) config->set_max_page_size(kDefaultMaxPageSize);
  if (config->default_page_size() == 0) {
    config->set_default_page_size(std::min(kDefaultPageSize, config->max_page_size()));
  }
  if (config->default_page_size() > config->max_page_size()) {
    return Invalid(origin, "default_page_size is larger than max_page_size");
  }
  v1::AuditLogConfig* audit = config->mutable_audit();
  if (audit->dir().empty()) audit->set_dir(config->data_dir() + "/audit");
  if (audit->durability() == v1::DURABILITY_UNSPECIFIED) {
    audit->set_durability(v1::DURABILITY_POWER_LOSS);
  }
  // Text format takes any number for an open enum: a number that names no durability is a typo,
  // not a choice.
  if (!v1::Durability_IsValid(audit->durability())) {
    return Invalid(origin, absl::StrCat("audit.durability ", audit->durability(),
                                        " is not a durability; give DURABILITY_POWER_LOSS or "
                                        "DURABILITY_PROCESS_CRASH"));
  }
  if (audit->signing_key_file().empty()) {
    audit->set_signing_key_file(audit->dir() + "/checkpoint.key");
  }
  if (audit->pseudonym_key_file().empty()) {
    audit->set_pseudonym_key_file(audit->dir() + "/pseudonym.key");
  }
  if (config->has_cluster()) NDX_RETURN_IF_ERROR(FinishClusterConfig(origin, config));
  if (audit->origin().empty()) audit->set_origin(config->trust_domain() + "/audit");
  // The origin names the log in every checkpoint and is its signing key's name: one that cannot
  // be signed would leave the log without checkpoints, found only at the first one.
  absl::Status log_name = audit::ValidateKeyName(audit->origin());
  if (!log_name.ok()) {
    return Invalid(origin, absl::StrCat("audit.origin \"", absl::CHexEscape(audit->origin()),
                                        "\" cannot name the log: ", log_name.message()));
  }
  if (audit->checkpoint_interval_seconds() == 0) audit->set_checkpoint_interval_seconds(10);
  if (config->sealing_key_file().empty()) {
    config->set_sealing_key_file(config->data_dir() + "/sealing.key");
  }
  if (config->page_token_lifetime_seconds() == 0) {
    config->set_page_token_lifetime_seconds(kDefaultPageTokenLifetimeSeconds);
  }
  v1::EventsConfig* events = config->mutable_events();
  if (events->dir().empty()) events->set_dir(config->data_dir() + "/events");
  if (events->retention_seconds() == 0)
    events->set_retention_seconds(kDefaultEventRetentionSeconds);
  if (events->expiry_interval_seconds() == 0) {
    events->set_expiry_interval_seconds(kDefaultEventExpiryIntervalSeconds);
  }
  if (config->has_json_api()) {
    v1::JsonApiConfig* json_api = config->mutable_json_api();
    if (json_api->threads() == 0) json_api->set_threads(kDefaultJsonApiThreads);
    if (json_api->threads() > kMaxJsonApiThreads) {
      return Invalid(origin, absl::StrCat("json_api.threads is larger than ", kMaxJsonApiThreads));
    }
    if (json_api->idle_timeout_seconds() == 0) {
      json_api->set_idle_timeout_seconds(kDefaultJsonApiIdleTimeoutSeconds);
    }
    if (json_api->listen_address().empty()) {
      return Invalid(origin,
                     "json_api.listen_address is required when json_api is set, e.g. "
                     "\"127.0.0.1:8444\"; leave json_api out for no REST/JSON face");
    }
    if (json_api->listen_address() == config->listen_address() &&
        !absl::EndsWith(json_api->listen_address(), ":0")) {
      return Invalid(origin, "json_api.listen_address must differ from listen_address");
    }
  }
  v1::GrantQuotaConfig* quotas = config->mutable_grant_quotas();
  if (quotas->share() == 0) quotas->set_share(1);
  if (!(quotas->share() > 0 && quotas->share() <= 1)) {
    return Invalid(origin, absl::StrCat("grant_quotas.share is ", quotas->share(),
                                        "; it must be more than 0 and at most 1: the part of "
                                        "each grant's rate limit this gateway enforces, 1/N for "
                                        "N replicas"));
  }
  NDX_RETURN_IF_ERROR(FinishNodeLimits(origin, config->mutable_node_limits()));
  NDX_RETURN_IF_ERROR(FinishOwnerGuard(origin, config->mutable_owner_guard()));
  absl::Status metrics_ok = metrics::CheckMetricsConfig(config->metrics());
  if (!metrics_ok.ok()) return Invalid(origin, metrics_ok.message());
  return absl::OkStatus();
}

absl::StatusOr<v1::GatewayConfig> LoadGatewayConfig(const std::string& path) {
  v1::GatewayConfig config;
  NDX_RETURN_IF_ERROR(LoadTextProto(path, &config));
  ResolveTlsPaths(path, config.mutable_tls());
  if (config.has_cluster()) {
    ResolveTlsPaths(path, config.mutable_cluster()->mutable_etcd()->mutable_tls());
    ResolveTlsPaths(path, config.mutable_cluster()->mutable_nats()->mutable_tls());
  }
  config.set_data_dir(ResolvePath(config.data_dir(), path));
  config.set_decision_log_file(ResolvePath(config.decision_log_file(), path));
  v1::AuditLogConfig* audit = config.mutable_audit();
  audit->set_dir(ResolvePath(audit->dir(), path));
  audit->set_signing_key_file(ResolvePath(audit->signing_key_file(), path));
  audit->set_pseudonym_key_file(ResolvePath(audit->pseudonym_key_file(), path));
  config.mutable_events()->set_dir(ResolvePath(config.events().dir(), path));
  config.set_sealing_key_file(ResolvePath(config.sealing_key_file(), path));
  if (!config.crl_file().empty()) config.set_crl_file(ResolvePath(config.crl_file(), path));
  NDX_RETURN_IF_ERROR(FinishGatewayConfig(path, &config));
  return config;
}

}  // namespace ndx::gateway
