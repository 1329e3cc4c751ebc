#ifndef NDX_ADAPTERS_ADAPTER_SERVICE_H_
#define NDX_ADAPTERS_ADAPTER_SERVICE_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/adapter_config.h"
#include "adapters/adapter_metrics.h"
#include "crypto/spiffe_id.h"
#include "ndx/v1/adapter.grpc.pb.h"

namespace ndx::adapters {

// Whether a verified peer may call the adapter: it must be a gateway of `trust_domain` named in
// `allowed_gateways` (an empty list allows nobody; LoadAdapterConfig refuses one). kUnauthenticated
// when the peer has no identity (the error of `peer`), kPermissionDenied naming the caller
// otherwise.
absl::Status AuthorizeGateway(const absl::StatusOr<crypto::SpiffeId>& peer,
                              const std::string& trust_domain,
                              const std::vector<std::string>& allowed_gateways);

// The Adapter gRPC service: reads records of the configured datasets for the gateway, and only
// for the gateway (the caller's identity comes from its mTLS certificate). Every call is logged
// at debug level with the request id, the consumer the gateway acts for, and the dataset, and
// counted and timed in `metrics` when there are metrics.
// Thread-safe: immutable state, thread-safe backends, and atomics for draining (no lock on the
// call path).
class AdapterService final : public v1::Adapter::Service {
 public:
  // `metrics`, if any, must outlive the service.
  explicit AdapterService(const LoadedAdapterConfig& config,
                          const AdapterMetrics* metrics = nullptr);

  grpc::Status Fetch(grpc::ServerContext* context, const v1::FetchRequest* request,
                     v1::FetchResponse* response) override;
  grpc::Status Search(grpc::ServerContext* context, const v1::SearchRequest* request,
                      v1::SearchResponse* response) override;

  // Makes every later call fail with kUnavailable ("the adapter is stopping") and waits until the
  // calls already running have finished, or `deadline` has passed. True when none is left.
  // grpc::Server::Shutdown alone would wait for its whole deadline while the gateway keeps its
  // (idle) connections open, so a stop would always take the full grace period.
  bool Drain(absl::Time deadline);

 private:
  // Counts a call as running unless draining; false (and not counted) when draining.
  bool EnterCall();
  void ExitCall() { in_flight_.fetch_sub(1); }

  absl::Status Authorize(const grpc::ServerContext& context) const;
  absl::StatusOr<const ServedDataset*> FindDataset(const std::string& dataset) const;
  absl::Status DoFetch(const grpc::ServerContext& context, const v1::FetchRequest& request,
                       v1::FetchResponse* response) const;
  absl::Status DoSearch(const grpc::ServerContext& context, const v1::SearchRequest& request,
                        v1::SearchResponse* response) const;

  const std::string trust_domain_;
  const std::vector<std::string> allowed_gateways_;
  const absl::flat_hash_map<std::string, ServedDataset> datasets_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> draining_{false};
  const AdapterMetrics* const metrics_;
};

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_ADAPTER_SERVICE_H_
