#ifndef NDX_ADAPTERS_ADAPTER_SERVICE_H_
#define NDX_ADAPTERS_ADAPTER_SERVICE_H_

#include <atomic>
#include <memory>
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
//
// It serves on gRPC's callback API. A Fetch from a SQLite database runs on the gRPC thread that
// received it: a read by key in a local file takes microseconds, and a hand-over to another
// thread would cost more than the read. What can wait on something else runs on the service's
// own threads instead: a Fetch from any other backend (PostgreSQL waits on its server, a REST
// backend on the network) and every Search (a scan, bounded only by its deadline). gRPC has few
// threads polling its connections (at least two; two on a 2-core machine), and a stalled
// database must not hold them all. One such Fetch at a time may still run on a gRPC thread: at
// low load that spares it two thread hand-overs, about the CPU of the read itself, and the other
// gRPC threads keep polling whatever that read waits for.
//
// Thread-safe: immutable state, thread-safe backends, atomics for draining and a thread pool that
// locks only to hand a call over (no lock on a SQLite Fetch's path besides the backend's pool).
class AdapterService final : public v1::Adapter::CallbackService {
 public:
  // `metrics`, if any, must outlive the service.
  explicit AdapterService(const LoadedAdapterConfig& config,
                          const AdapterMetrics* metrics = nullptr);
  // Waits for the calls handed to the service's threads; grpc::Server::Shutdown, which waits for
  // every call to finish, comes first.
  ~AdapterService() override;

  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* context,
                                  const v1::FetchRequest* request,
                                  v1::FetchResponse* response) override;
  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* context,
                                   const v1::SearchRequest* request,
                                   v1::SearchResponse* response) override;

  // Makes every later call fail with kUnavailable ("the adapter is stopping") and waits until the
  // calls already running have finished, or `deadline` has passed. True when none is left.
  // grpc::Server::Shutdown alone would wait for its whole deadline while the gateway keeps its
  // (idle) connections open, so a stop would always take the full grace period.
  bool Drain(absl::Time deadline);

 private:
  class BlockingCalls;

  // A served dataset and where its Fetch calls run.
  struct Served {
    ServedDataset dataset;
    // True for a SQLite backend (see the class comment).
    bool fetch_on_grpc_thread = false;
  };

  static absl::flat_hash_map<std::string, Served> ServedDatasets(
      const absl::flat_hash_map<std::string, ServedDataset>& datasets);

  // Counts a call as running unless draining; false (and not counted) when draining.
  bool EnterCall();
  void ExitCall() { in_flight_.fetch_sub(1); }

  // The checks of every call before its backend runs: the caller, then the dataset.
  absl::StatusOr<const Served*> Admit(const grpc::ServerContextBase& context,
                                      const std::string& dataset) const;
  absl::Status Authorize(const grpc::ServerContextBase& context) const;
  absl::StatusOr<const Served*> FindDataset(const std::string& dataset) const;
  absl::Status ReadRecord(const grpc::ServerContextBase& context, const v1::FetchRequest& request,
                          const Served& served, v1::FetchResponse* response) const;
  absl::Status ReadPage(const grpc::ServerContextBase& context, const v1::SearchRequest& request,
                        const Served& served, v1::SearchResponse* response) const;
  // Ends a counted call: uncounts it, logs it and sends `status`.
  void Complete(grpc::ServerUnaryReactor* reactor, absl::string_view method,
                const v1::RequestContext& request_context, const std::string& dataset,
                const absl::Status& status, absl::Time start);

  const std::string trust_domain_;
  const std::vector<std::string> allowed_gateways_;
  // The SPIFFE ids of the allowed gateways, spelled as ParseSpiffeId accepts them (it accepts one
  // spelling per id): a caller whose certificate carries one of these is allowed without parsing.
  const std::vector<std::string> allowed_ids_;
  const absl::flat_hash_map<std::string, Served> datasets_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> draining_{false};
  const AdapterMetrics* const metrics_;
  // Fetches of backends that wait on a server, running on a gRPC thread: 0 or 1.
  std::atomic<int> waiting_on_grpc_thread_{0};
  const std::unique_ptr<BlockingCalls> blocking_calls_;
};

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_ADAPTER_SERVICE_H_
