#ifndef NDX_GATEWAY_ADAPTER_CALL_METRICS_H_
#define NDX_GATEWAY_ADAPTER_CALL_METRICS_H_

#include <grpcpp/support/client_interceptor.h>

#include <memory>
#include <string>

#include "gateway/gateway_metrics.h"

namespace ndx::gateway {

// A client interceptor factory for the channel to `owner`'s adapter (AdapterPool makes one per
// channel): every call on the channel is timed from its start to its status and counted by the
// code it ended with, into ndx_gateway_adapter_call_duration_seconds and
// ndx_gateway_adapter_calls_total{owner,method,...}. Measured on the channel, not in the
// Exchange service, so that it sees every adapter call whoever makes it, and what gRPC itself
// adds (connecting, deadline). Per call: one interceptor allocation, two monotonic clock reads,
// a scan of the Adapter service's two methods, one counter and one histogram update.
// Thread-safe. `metrics` must outlive the channel.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeAdapterCallMetrics(
    GatewayMetrics& metrics, const std::string& owner);

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_ADAPTER_CALL_METRICS_H_
