#include "metrics/metrics_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"

namespace ndx::metrics {

bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost") return true;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  // ::ffff:127.x.y.z
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

absl::Status CheckMetricsConfig(const v1::MetricsConfig& config) {
  const std::string& address = config.listen_address();
  if (address.empty()) return absl::OkStatus();
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(address).substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("metrics.listen_address \"", address,
                                                   "\" is not host:port, e.g. \"127.0.0.1:9464\""));
  }
  const absl::string_view host = absl::string_view(address).substr(0, colon);
  if (!config.allow_non_loopback() && !IsLoopbackHost(host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics.listen_address \"", address,
        "\" is not a loopback address; metrics are served on 127.0.0.1, ::1 or localhost unless "
        "metrics.allow_non_loopback is true (then firewall the port to the Prometheus hosts)"));
  }
  if (config.scrapers().empty()) {
    return absl::InvalidArgumentError(
        "metrics.scrapers is empty; list the node ids whose certificates may scrape, e.g. "
        "scrapers: \"ndx/prometheus\" for a certificate from `ndxctl pki issue --node "
        "ndx/prometheus`");
  }
  for (const std::string& scraper : config.scrapers()) {
    absl::Status valid = ValidateNodeId(scraper);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("metrics.scrapers: ", valid.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace ndx::metrics
