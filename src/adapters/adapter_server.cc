#include "adapters/adapter_server.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "crypto/tls.h"

namespace ndx::adapters {

void ApplyAdapterServerOptions(int max_message_bytes, grpc::ServerBuilder* builder) {
  grpc::EnableDefaultHealthCheckService(true);
  builder->SetMaxReceiveMessageSize(max_message_bytes);
  builder->SetMaxSendMessageSize(max_message_bytes);
  // BDP probing sends PINGs with data frames; a proxy in front of the adapter (nginx in the
  // benchmarks) counts them against its ping limits and closes the connection.
  builder->AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
}

absl::StatusOr<std::unique_ptr<AdapterServer>> AdapterServer::Start(
    const LoadedAdapterConfig& config) {
  std::unique_ptr<crypto::RevocationWatcher> revocation;
  if (!config.crl_file.empty()) {
    NDX_ASSIGN_OR_RETURN(revocation,
                         crypto::RevocationWatcher::Start(config.crl_file, config.tls.ca_file));
  }
  NDX_ASSIGN_OR_RETURN(
      std::shared_ptr<grpc::ServerCredentials> credentials,
      crypto::MakeServerCredentials(config.tls, config.trust_domain, revocation.get()));
  std::unique_ptr<AdapterMetrics> adapter_metrics;
  if (!config.metrics.listen_address().empty()) {
    std::vector<std::string> datasets;
    for (const auto& [id, served] : config.datasets) datasets.push_back(id);
    adapter_metrics = std::make_unique<AdapterMetrics>(datasets);
  }
  auto service = std::make_unique<AdapterService>(config, adapter_metrics.get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen_address, credentials, &port);
  builder.RegisterService(service.get());
  ApplyAdapterServerOptions(config.max_message_bytes, &builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    if (server != nullptr) server->Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen_address,
                                               " (address in use, not local, or not host:port)"));
  }
  std::unique_ptr<AdapterServer> adapter(
      new AdapterServer(std::move(revocation), std::move(adapter_metrics), std::move(service),
                        std::move(server), port, config.tls));
  if (adapter->metrics_ != nullptr) {
    adapter->certificate_metrics_ = std::make_unique<metrics::CertificateCollector>(config.tls);
    NDX_ASSIGN_OR_RETURN(adapter->metrics_server_,
                         metrics::MetricsServer::Start({.config = config.metrics,
                                                        .tls = config.tls,
                                                        .trust_domain = config.trust_domain,
                                                        .revocation = adapter->revocation_.get()},
                                                       {&adapter->metrics_->registry(),
                                                        adapter->certificate_metrics_.get()}));
  }
  return adapter;
}

AdapterServer::~AdapterServer() { Shutdown(absl::ZeroDuration()); }

void AdapterServer::Shutdown(absl::Duration grace) {
  if (metrics_server_ != nullptr) metrics_server_->Stop();
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  service_->Drain(absl::Now() + grace);
  // Nothing runs any more: no reason to wait for the gateway to close its connections.
  // grpc::Server::Shutdown is itself idempotent and thread-safe.
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
}

}  // namespace ndx::adapters
