#ifndef NDX_GATEWAY_GATEWAY_SERVER_H_
#define NDX_GATEWAY_GATEWAY_SERVER_H_

#include <grpcpp/server.h>

#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"
#include "audit/audit_sink.h"
#include "audit/checkpointer.h"
#include "cluster/etcd_client.h"
#include "cluster/membership.h"
#include "crypto/certificate_expiry.h"
#include "crypto/revocation.h"
#include "events/event_backend.h"
#include "gateway/adapter_pool.h"
#include "gateway/audit_fanout.h"
#include "gateway/audit_service.h"
#include "gateway/events_service.h"
#include "gateway/exchange_service.h"
#include "gateway/gateway_metrics.h"
#include "gateway/gateway_state_collector.h"
#include "gateway/json_api.h"
#include "gateway/node_limits.h"
#include "gateway/owner_guard.h"
#include "gateway/owner_guard_collector.h"
#include "gateway/page_tokens.h"
#include "gateway/registry_service.h"
#include "metrics/certificate_collector.h"
#include "metrics/metrics_server.h"
#include "ndx/v1/config.pb.h"
#include "registry/registry.h"
#include "registry/registry_admin.h"

namespace ndx::gateway {

// A running gateway: the registry, the audit sink, the adapter channels and the gRPC server with
// the Exchange, Registry, Audit and Events services, health checking and reflection. Thread-safe.
class GatewayServer {
 public:
  // Opens everything named in `config` (as completed by LoadGatewayConfig) and starts serving.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(const v1::GatewayConfig& config);

  // Replaces the gateway's audit sink by what `wrap` makes of it (a sink that fails on demand).
  using AuditSinkWrapper =
      absl::AnyInvocable<std::unique_ptr<audit::AuditSink>(std::unique_ptr<audit::AuditSink>)>;
  static absl::StatusOr<std::unique_ptr<GatewayServer>> StartForTest(
      const v1::GatewayConfig& config, AuditSinkWrapper wrap);
  ~GatewayServer();

  // The port actually bound (useful with port 0).
  int port() const { return port_; }
  // The REST/JSON face's port; 0 when it is off.
  int json_api_port() const { return json_api_ == nullptr ? 0 : json_api_->port(); }
  // The metrics listener's port; 0 when metrics are not configured.
  int metrics_port() const { return metrics_server_ != nullptr ? metrics_server_->port() : 0; }

  // Stops accepting calls and waits up to `grace` for calls in flight before cancelling them.
  void Shutdown(absl::Duration grace);

 private:
  GatewayServer() = default;
  static absl::StatusOr<std::unique_ptr<GatewayServer>> StartWith(const v1::GatewayConfig& config,
                                                                  AuditSinkWrapper wrap);
  absl::Status OpenAudit(const v1::GatewayConfig& config);
  // Gives the configured bootstrap operators their role, each change audited before it applies.
  absl::Status BootstrapOperators(const v1::GatewayConfig& config);
  // A replica's registry follows etcd; a single node's is its own RocksDB database.
  absl::Status OpenRegistry(const v1::GatewayConfig& config);
  // Registers a replica in its cluster, and makes its clients of the other replicas.
  absl::Status JoinCluster(const v1::GatewayConfig& config, const crypto::TlsFilePaths& tls);
  // The event store: JetStream for a replica, RocksDB for a single node.
  absl::Status OpenEvents(const v1::GatewayConfig& config, crypto::Sealer key_sealer);
  // Serves /metrics when the config asks for it.
  absl::Status StartMetrics(const v1::GatewayConfig& config, const crypto::TlsFilePaths& tls);

  // The CRL in force, when the config names one; declared first so that it outlives the server, its
  // credentials and its services.
  std::unique_ptr<crypto::RevocationWatcher> revocation_;
  // What calls update when metrics are configured; before the audit sink and the adapter pool that
  // update it, so that it outlives them.
  std::unique_ptr<GatewayMetrics> metrics_;
  // A replica's client of etcd; before the registry that follows etcd through it.
  std::unique_ptr<cluster::EtcdClient> etcd_;
  std::unique_ptr<registry::Registry> registry_;
  // A replica's place in its cluster and the other replicas as its Audit service calls them.
  std::unique_ptr<cluster::Membership> membership_;
  std::unique_ptr<AuditPeers> audit_peers_;
  std::unique_ptr<registry::RegistryAdmin> admin_;
  // The sink owns the audit log; the checkpointer and the audit service read it.
  std::unique_ptr<audit::AuditSink> audit_;
  audit::AuditLog* audit_log_ = nullptr;
  std::unique_ptr<audit::Checkpointer> checkpointer_;
  std::unique_ptr<AdapterPool> adapters_;
  std::unique_ptr<PageTokens> page_tokens_;
  std::unique_ptr<GrantQuotas> grant_quotas_;
  // What the services consult before they take on a call: caps per caller node, and the guards
  // of each owner's adapter.
  std::unique_ptr<NodeLimits> node_limits_;
  std::unique_ptr<OwnerGuards> owner_guards_;
  std::unique_ptr<ExchangeService> exchange_;
  std::unique_ptr<RegistryService> registry_service_;
  std::unique_ptr<AuditService> audit_service_;
  // RocksDB on a single node, JetStream shared by the replicas of a cluster.
  std::unique_ptr<events::EventBackend> events_;
  std::unique_ptr<EventsService> events_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  // Declared after the services it calls, so that it stops first.
  std::unique_ptr<JsonApi> json_api_;
  // Logs, at start and daily, the certificates that expire within 30 days.
  std::unique_ptr<crypto::CertificateExpiryMonitor> expiry_;
  // The metrics listener and what it reads at each scrape; last, so that it stops first.
  std::unique_ptr<GatewayStateCollector> state_metrics_;
  std::unique_ptr<OwnerGuardCollector> owner_guard_metrics_;
  std::unique_ptr<metrics::CertificateCollector> certificate_metrics_;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_GATEWAY_SERVER_H_
