#ifndef NDX_GATEWAY_EXCHANGE_SERVICE_H_
#define NDX_GATEWAY_EXCHANGE_SERVICE_H_

#include <atomic>
#include <chrono>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/audit_sink.h"
#include "common/clock.h"
#include "gateway/adapter_pool.h"
#include "gateway/caller.h"
#include "gateway/grant_quotas.h"
#include "gateway/node_limits.h"
#include "gateway/owner_guard.h"
#include "gateway/page_tokens.h"
#include "ndx/v1/exchange.grpc.pb.h"
#include "registry/registry.h"

namespace ndx::gateway {

struct ExchangeOptions {
  CallerPolicy callers;
  // Upper bound on an adapter call; the caller's deadline applies when shorter.
  absl::Duration adapter_timeout = absl::Seconds(5);
  int default_page_size = 100;
  int max_page_size = 1000;
  // The grants' rate limits, checked once a call is authorized; nullptr enforces none. Not owned.
  GrantQuotas* grant_quotas = nullptr;
  // Caps per caller node and guards per owner's adapter (docs/architecture.md, Admission); none
  // means no cap. Not owned; they must outlive the service.
  NodeLimits* node_limits = nullptr;
  OwnerGuards* owner_guards = nullptr;
};

// Who asked for a read, as the transport established it, and until when they wait.
struct ReadOrigin {
  // The caller's node id, or why it has none (kUnauthenticated, kPermissionDenied): the refusal
  // is then audited and answered like any other.
  absl::StatusOr<std::string> caller;
  std::chrono::system_clock::time_point deadline;
  // The connection the call arrived on (its peer address), for the node's connection cap; empty
  // for a transport whose connections are bounded otherwise (the REST/JSON face).
  std::string connection;
};

// Receives a read's outcome once, on any thread, after its audit record was appended; the
// response is filled when the status is OK. The request id is the one in the audit record.
using ReadDone = absl::AnyInvocable<void(absl::Status status, const std::string& request_id) &&>;

// The consumer-facing read API. Each call: identify the caller from its certificate, validate,
// authorize against the current registry snapshot, forward to the owner's adapter without
// blocking a thread (asking also for the dataset's subject field), keep only the granted fields,
// append the audit record with the data subjects read, answer. Refusals are audited too, with
// the subject the request names when it names one. Query's page tokens are sealed and bound to
// the query (PageTokens). Thread-safe; all collaborators must outlive it.
class ExchangeService final : public v1::Exchange::CallbackService {
 public:
  ExchangeService(ExchangeOptions options, registry::Registry* registry, AdapterPool* adapters,
                  const PageTokens* page_tokens, audit::AuditSink* audit, const Clock* clock)
      : options_(std::move(options)),
        registry_(registry),
        adapters_(adapters),
        page_tokens_(page_tokens),
        audit_(audit),
        clock_(clock) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context, const v1::GetRequest* request,
                                v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* Query(grpc::CallbackServerContext* context,
                                  const v1::QueryRequest* request,
                                  v1::QueryResponse* response) override;

  // The same reads for a transport other than this gRPC service (the REST/JSON face): the same
  // validation, authorization, adapter call, projection and audit. `request` and `response` must
  // live until `done` runs.
  void StartGet(ReadOrigin origin, const v1::GetRequest* request, v1::GetResponse* response,
                ReadDone done);
  void StartQuery(ReadOrigin origin, const v1::QueryRequest* request, v1::QueryResponse* response,
                  ReadDone done);

  // The caller of a gRPC call, by the policy of the options.
  ReadOrigin OriginOf(const grpc::CallbackServerContext& context) const;

  // Reads started and not yet answered, for draining at shutdown.
  int in_flight() const { return in_flight_.load(std::memory_order_acquire); }

 private:
  friend class ReadCall;

  const ExchangeOptions options_;
  registry::Registry* const registry_;
  AdapterPool* const adapters_;
  const PageTokens* const page_tokens_;
  audit::AuditSink* const audit_;
  const Clock* const clock_;
  mutable std::atomic<int> in_flight_{0};
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_EXCHANGE_SERVICE_H_
