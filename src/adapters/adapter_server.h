#ifndef NDX_ADAPTERS_ADAPTER_SERVER_H_
#define NDX_ADAPTERS_ADAPTER_SERVER_H_

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/adapter_config.h"
#include "adapters/adapter_metrics.h"
#include "adapters/adapter_service.h"
#include "crypto/certificate_expiry.h"
#include "crypto/revocation.h"
#include "metrics/certificate_collector.h"
#include "metrics/metrics_server.h"

namespace ndx::adapters {

// The server settings of ndx-adapter besides its address, credentials and services: message size
// limits, HTTP/2 and health checking. bench/minimal_server.cc builds its server with the same, so
// that the benchmark's baseline differs from the adapter only in the work of a call.
void ApplyAdapterServerOptions(int max_message_bytes, grpc::ServerBuilder* builder);

// A running ndx-adapter: the Adapter service and the standard health service on the configured
// address, mTLS only. The binary is a thin main over this, so tests start the same server.
// Thread-safe: Shutdown() may be called from any thread, once or more.
class AdapterServer {
 public:
  // Builds and starts the server. Credential errors (missing or unreadable files, a key readable
  // by others) keep their code and name the file; failing to listen is kUnavailable.
  static absl::StatusOr<std::unique_ptr<AdapterServer>> Start(const LoadedAdapterConfig& config);
  ~AdapterServer();

  // The bound port (the one picked by the system when the config says port 0).
  int port() const { return port_; }
  // The metrics listener's port; 0 when metrics are not configured.
  int metrics_port() const { return metrics_server_ != nullptr ? metrics_server_->port() : 0; }

  // Reports NOT_SERVING on the health service, refuses new calls (kUnavailable), lets the running
  // ones finish for up to `grace`, then stops the server, cancelling what is left. Returns as soon
  // as no call runs, even if the gateway keeps connections open.
  void Shutdown(absl::Duration grace);

 private:
  AdapterServer(std::unique_ptr<crypto::RevocationWatcher> revocation,
                std::unique_ptr<AdapterMetrics> metrics, std::unique_ptr<AdapterService> service,
                std::unique_ptr<grpc::Server> server, int port, const crypto::TlsFilePaths& tls)
      : revocation_(std::move(revocation)),
        metrics_(std::move(metrics)),
        service_(std::move(service)),
        server_(std::move(server)),
        port_(port),
        expiry_(tls) {}

  // The CRL in force, when configured: first, so that it outlives the server's credentials.
  std::unique_ptr<crypto::RevocationWatcher> revocation_;
  // What the service updates when metrics are configured: before it, so that it outlives it.
  std::unique_ptr<AdapterMetrics> metrics_;
  std::unique_ptr<AdapterService> service_;
  std::unique_ptr<grpc::Server> server_;
  const int port_;
  // Logs, at start and daily, the certificates that expire within 30 days.
  crypto::CertificateExpiryMonitor expiry_;
  // The metrics listener and the certificates it reads at each scrape; last, so that it stops
  // first.
  std::unique_ptr<metrics::CertificateCollector> certificate_metrics_;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
};

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_ADAPTER_SERVER_H_
