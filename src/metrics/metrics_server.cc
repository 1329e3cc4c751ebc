#include "metrics/metrics_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "metrics/exposition.h"

namespace ndx::metrics {
namespace {

constexpr int kPermissionDenied = 7;

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    MetricsServerOptions options, std::vector<const prometheus::Collectable*> sources) {
  std::vector<std::string> scrapers(options.config.scrapers().begin(),
                                    options.config.scrapers().end());
  http::Route route{
      .method = "GET",
      .pattern = "/metrics",
      .handler = [scrapers = std::move(scrapers),
                  sources = std::move(sources)](const http::Request& request) {
        // The trust domain and the leaf rules were checked at the handshake; what is left is
        // whether this node may read the platform's metrics.
        const crypto::SpiffeId& peer = request.peer;
        if (!peer.is_node() ||
            std::find(scrapers.begin(), scrapers.end(), peer.name()) == scrapers.end()) {
          spdlog::info("refused a metrics scrape by {} from {}: not in metrics.scrapers",
                       peer.ToString(), request.remote_address);
          return http::Response{
              .status = 403,
              .content_type = "application/json",
              .body = http::ErrorBody(kPermissionDenied,
                                      absl::StrCat(peer.ToString(),
                                                   " may not scrape metrics: it is not a node "
                                                   "listed in metrics.scrapers")),
              .headers = {}};
        }
        return http::Response{.status = 200,
                              .content_type = kTextContentType,
                              .body = RenderText(sources),
                              .headers = {}};
      }};
  http::ServerOptions server_options{.listen_address = options.config.listen_address(),
                                     .tls = options.tls,
                                     .trust_domain = options.trust_domain,
                                     .revocation = options.revocation,
                                     // Scrapes come every few seconds from one or two servers.
                                     .threads = 2};
  std::vector<http::Route> routes;
  routes.push_back(std::move(route));
  absl::StatusOr<std::unique_ptr<http::MtlsServer>> server =
      http::MtlsServer::Start(std::move(server_options), std::move(routes));
  if (!server.ok()) {
    return absl::Status(server.status().code(),
                        absl::StrCat("metrics: ", server.status().message()));
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(*std::move(server)));
}

}  // namespace ndx::metrics
