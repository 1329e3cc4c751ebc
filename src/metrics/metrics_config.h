#ifndef NDX_METRICS_METRICS_CONFIG_H_
#define NDX_METRICS_METRICS_CONFIG_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ndx/v1/config.pb.h"

namespace ndx::metrics {

// Whether `host` (of a "host:port" listen address; IPv6 in brackets or bare) is a loopback
// address: 127.0.0.0/8, ::1, an IPv4-mapped 127.x address, or "localhost". Other names are not
// resolved, so they are not loopback.
bool IsLoopbackHost(absl::string_view host);

// Checks a MetricsConfig, the same for the gateway and the adapter: nothing to check when
// listen_address is empty (no metrics); otherwise listen_address is host:port, its host is
// loopback unless allow_non_loopback, and scrapers lists at least one node id, each valid.
// kInvalidArgument whose message starts with "metrics." and says what to fix.
absl::Status CheckMetricsConfig(const v1::MetricsConfig& config);

}  // namespace ndx::metrics

#endif  // NDX_METRICS_METRICS_CONFIG_H_
