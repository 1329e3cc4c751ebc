#ifndef NDX_METRICS_METRICS_SERVER_H_
#define NDX_METRICS_METRICS_SERVER_H_

#include <prometheus/collectable.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/revocation.h"
#include "crypto/tls.h"
#include "http/mtls_server.h"
#include "ndx/v1/config.pb.h"

namespace ndx::metrics {

struct MetricsServerOptions {
  // As CheckMetricsConfig accepts it, listen_address set.
  v1::MetricsConfig config;
  // The process's own TLS files and trust domain, as on its gRPC port.
  crypto::TlsFilePaths tls;
  std::string trust_domain;
  // The CRL in force, if any. Not owned; must outlive the server.
  const crypto::RevocationWatcher* revocation = nullptr;
};

// The /metrics endpoint of a gateway or an adapter: GET /metrics on an HTTPS listener of its own
// (http::MtlsServer: the client's certificate is verified as on the gRPC ports, and there is no
// plaintext mode), answered only to the nodes of config.scrapers (403 for any other identity)
// with its sources collected and rendered in Prometheus's text format at each scrape.
// Thread-safe.
class MetricsServer {
 public:
  // Binds and starts serving. `sources` are not owned and must outlive the server. Errors as
  // http::MtlsServer::Start.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      MetricsServerOptions options, std::vector<const prometheus::Collectable*> sources);

  // The port actually bound.
  int port() const { return server_->port(); }

  // Stops accepting scrapes and waits for those being answered. Idempotent.
  void Stop() { server_->Stop(); }

 private:
  explicit MetricsServer(std::unique_ptr<http::MtlsServer> server) : server_(std::move(server)) {}

  const std::unique_ptr<http::MtlsServer> server_;
};

}  // namespace ndx::metrics

#endif  // NDX_METRICS_METRICS_SERVER_H_
