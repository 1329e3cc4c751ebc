#ifndef NDX_GATEWAY_GATEWAY_METRICS_H_
#define NDX_GATEWAY_GATEWAY_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "metrics/code_counters.h"

namespace ndx::gateway {

// The gateway's metrics that its calls update as they happen, in a registry of their own:
//   ndx_gateway_requests_total{service,method,decision,code}   counter (MeteredAuditSink)
//   ndx_gateway_request_duration_seconds{service,method}        histogram
//   ndx_gateway_adapter_calls_total{owner,method,code}           counter (adapter_call_metrics.h)
//   ndx_gateway_adapter_call_duration_seconds{owner,method}      histogram
//   ndx_audit_append_duration_seconds                            histogram
//   ndx_audit_append_failures_total                              counter
// Label values are service and method names, node ids and status codes: never a key, a field
// value, a filter value or a purpose. The children a call updates are resolved ahead of it
// (ForOperation, ForAdapter), so a call costs no registry lookup.
// Thread-safe.
class GatewayMetrics {
 public:
  // The children of one operation (AuditRecord::operation).
  // Thread-safe.
  class Operation {
   public:
    Operation(GatewayMetrics& parent, const std::string& service, const std::string& method);
    // One decision answered `code` after `latency`: decision "allow" when OK, "deny" otherwise,
    // as the audit log says.
    void Observe(absl::StatusCode code, absl::Duration latency) const;

   private:
    const metrics::CodeCounters allowed_;
    const metrics::CodeCounters denied_;
    prometheus::Histogram& duration_;
  };

  // The children of the calls to one owner's adapter.
  // Thread-safe.
  class AdapterCalls {
   public:
    AdapterCalls(GatewayMetrics& parent, const std::string& owner);
    // One call of Adapter.`method` ("Fetch", "Search") that ended with `code` after `latency`;
    // a method the Adapter service does not have is not counted.
    void Observe(absl::string_view method, absl::StatusCode code, absl::Duration latency) const;

   private:
    struct Method {
      std::string name;
      std::unique_ptr<metrics::CodeCounters> calls;
      prometheus::Histogram* duration;
    };
    // One per method of ndx.v1.Adapter: two, searched in order.
    std::vector<Method> methods_;
  };

  GatewayMetrics();
  GatewayMetrics(const GatewayMetrics&) = delete;
  GatewayMetrics& operator=(const GatewayMetrics&) = delete;

  // The metrics of `operation`: "Get" and "Query" (Exchange), "<Service>.<method>" for the other
  // services ("Registry.ApproveGrant"). Those of the gateway's four services, and the start-up's
  // Registry.BootstrapOperators, are made at construction and found in an immutable map, without
  // a lock; any other is made on first use and found under a mutex.
  const Operation& ForOperation(absl::string_view operation);

  // The metrics of the calls to `owner`'s adapter (a node id); the caller keeps them (one per
  // adapter channel).
  std::unique_ptr<AdapterCalls> ForAdapter(const std::string& owner) {
    return std::make_unique<AdapterCalls>(*this, owner);
  }

  // One audit append that took `duration` and succeeded or failed.
  void ObserveAuditAppend(absl::Duration duration, bool ok) const;

  const prometheus::Registry& registry() const { return *registry_; }

 private:
  using OperationMap = absl::node_hash_map<std::string, Operation>;

  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Family<prometheus::Counter>& adapter_calls_;
  prometheus::Family<prometheus::Histogram>& adapter_call_duration_;
  prometheus::Histogram& audit_append_duration_;
  prometheus::Counter& audit_append_failures_;
  // Built in the constructor, then only read.
  OperationMap known_operations_;
  absl::Mutex other_operations_mutex_;
  OperationMap other_operations_ ABSL_GUARDED_BY(other_operations_mutex_);
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_GATEWAY_METRICS_H_
