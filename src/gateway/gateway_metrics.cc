#include "gateway/gateway_metrics.h"

#include <google/protobuf/descriptor.h>

#include <utility>

#include "ndx/v1/adapter.pb.h"
#include "ndx/v1/audit.pb.h"
#include "ndx/v1/events.pb.h"
#include "ndx/v1/exchange.pb.h"
#include "ndx/v1/registry.pb.h"

namespace ndx::gateway {
namespace {

// Exchange's operations are recorded by method name alone ("Get"), the other services' as
// "<Service>.<method>" (AuditRecord::operation).
constexpr char kExchange[] = "Exchange";

// (service, method) of `operation`.
std::pair<std::string, std::string> SplitOperation(absl::string_view operation) {
  const size_t dot = operation.find('.');
  if (dot == absl::string_view::npos) return {kExchange, std::string(operation)};
  return {std::string(operation.substr(0, dot)), std::string(operation.substr(dot + 1))};
}

// The methods of `service`; each message names a file so that its descriptor is linked in.
std::vector<std::string> MethodsOf(const google::protobuf::FileDescriptor* file,
                                   const std::string& service) {
  std::vector<std::string> methods;
  const google::protobuf::ServiceDescriptor* descriptor = file->FindServiceByName(service);
  if (descriptor == nullptr) return methods;
  for (int i = 0; i < descriptor->method_count(); ++i) {
    methods.push_back(descriptor->method(i)->name());
  }
  return methods;
}

}  // namespace

GatewayMetrics::Operation::Operation(GatewayMetrics& parent, const std::string& service,
                                     const std::string& method)
    : allowed_(parent.requests_, {{"service", service}, {"method", method}, {"decision", "allow"}}),
      denied_(parent.requests_, {{"service", service}, {"method", method}, {"decision", "deny"}}),
      duration_(parent.request_duration_.Add({{"service", service}, {"method", method}},
                                             metrics::LatencyBuckets())) {}

void GatewayMetrics::Operation::Observe(absl::StatusCode code, absl::Duration latency) const {
  (code == absl::StatusCode::kOk ? allowed_ : denied_).Increment(code);
  duration_.Observe(absl::ToDoubleSeconds(latency));
}

GatewayMetrics::AdapterCalls::AdapterCalls(GatewayMetrics& parent, const std::string& owner) {
  for (std::string& method : MethodsOf(v1::FetchRequest::descriptor()->file(), "Adapter")) {
    prometheus::Labels labels = {{"owner", owner}, {"method", method}};
    prometheus::Histogram* duration =
        &parent.adapter_call_duration_.Add(labels, metrics::LatencyBuckets());
    auto calls = std::make_unique<metrics::CodeCounters>(parent.adapter_calls_, labels);
    methods_.push_back({std::move(method), std::move(calls), duration});
  }
}

void GatewayMetrics::AdapterCalls::Observe(absl::string_view method, absl::StatusCode code,
                                           absl::Duration latency) const {
  for (const Method& known : methods_) {
    if (known.name != method) continue;
    known.calls->Increment(code);
    known.duration->Observe(absl::ToDoubleSeconds(latency));
    return;
  }
}

GatewayMetrics::GatewayMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      // The names are constants: Register throws only for a malformed or duplicate name, a
      // programming error that the unit tests would meet first.
      requests_(prometheus::BuildCounter()
                    .Name("ndx_gateway_requests_total")
                    .Help("Decisions of the gateway's services as the audit log records them, by "
                          "the code answered")
                    .Register(*registry_)),
      request_duration_(prometheus::BuildHistogram()
                            .Name("ndx_gateway_request_duration_seconds")
                            .Help("Time from a call's arrival to its answer, audit append included")
                            .Register(*registry_)),
      adapter_calls_(prometheus::BuildCounter()
                         .Name("ndx_gateway_adapter_calls_total")
                         .Help("Calls from the gateway to the owners' adapters, by the code the "
                               "adapter (or the channel) returned")
                         .Register(*registry_)),
      adapter_call_duration_(prometheus::BuildHistogram()
                                 .Name("ndx_gateway_adapter_call_duration_seconds")
                                 .Help("Time from sending a call to an adapter to its status")
                                 .Register(*registry_)),
      audit_append_duration_(
          prometheus::BuildHistogram()
              .Name("ndx_audit_append_duration_seconds")
              .Help("Time from handing a record to the audit log to its being durable (or failed)")
              .Register(*registry_)
              .Add({}, metrics::LatencyBuckets())),
      audit_append_failures_(prometheus::BuildCounter()
                                 .Name("ndx_audit_append_failures_total")
                                 .Help("Audit appends that failed; each failed the call it "
                                       "recorded, unless that call was already refused")
                                 .Register(*registry_)
                                 .Add({})) {
  std::vector<std::string> operations;
  for (std::string& method : MethodsOf(v1::GetRequest::descriptor()->file(), kExchange)) {
    operations.push_back(std::move(method));
  }
  const std::pair<const google::protobuf::FileDescriptor*, std::string> services[] = {
      {v1::Node::descriptor()->file(), "Registry"},
      {v1::AuditEntry::descriptor()->file(), "Audit"},
      {v1::Event::descriptor()->file(), "Events"}};
  for (const auto& [file, service] : services) {
    for (const std::string& method : MethodsOf(file, service)) {
      operations.push_back(service + "." + method);
    }
  }
  // Recorded by the gateway itself at start-up (GatewayServer::BootstrapOperators).
  operations.push_back("Registry.BootstrapOperators");
  for (const std::string& operation : operations) {
    auto [service, method] = SplitOperation(operation);
    known_operations_.try_emplace(operation, *this, service, method);
  }
}

const GatewayMetrics::Operation& GatewayMetrics::ForOperation(absl::string_view operation) {
  auto known = known_operations_.find(operation);
  if (known != known_operations_.end()) return known->second;
  absl::MutexLock lock(&other_operations_mutex_);
  auto other = other_operations_.find(operation);
  if (other == other_operations_.end()) {
    auto [service, method] = SplitOperation(operation);
    other = other_operations_.try_emplace(std::string(operation), *this, service, method).first;
  }
  // A node_hash_map's values stay where they are as it grows.
  return other->second;
}

void GatewayMetrics::ObserveAuditAppend(absl::Duration duration, bool ok) const {
  audit_append_duration_.Observe(absl::ToDoubleSeconds(duration));
  if (!ok) audit_append_failures_.Increment();
}

}  // namespace ndx::gateway
