#ifndef NDX_GATEWAY_ADAPTER_POOL_H_
#define NDX_GATEWAY_ADAPTER_POOL_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "crypto/spiffe_id.h"
#include "crypto/tls.h"
#include "gateway/gateway_metrics.h"
#include "ndx/v1/adapter.grpc.pb.h"

namespace ndx::gateway {

// The gateway's mTLS channels to the owners' adapters, one per (endpoint, owner identity), made on
// first use and kept: gRPC multiplexes every call to an adapter over it and reconnects on its own.
// The adapter must present the owner node's identity, so a wrong endpoint in the registry cannot
// send a consumer's request to another agency.
// Thread-safe: Find() reads an immutable map through an atomic pointer (no lock on the hot path);
// a miss takes a mutex to create the channel.
class AdapterPool {
 public:
  // With `metrics`, every channel times and counts its calls (MakeAdapterCallMetrics); it must
  // outlive the pool.
  AdapterPool(crypto::TlsFilePaths gateway_tls, std::string trust_domain, int max_message_bytes,
              GatewayMetrics* metrics = nullptr)
      : gateway_tls_(std::move(gateway_tls)),
        gateway_tls_watch_(crypto::WatchTlsFiles(gateway_tls_)),
        trust_domain_(std::move(trust_domain)),
        max_message_bytes_(max_message_bytes),
        metrics_(metrics) {}

  // The stub for the adapter of `owner_node_id` at `endpoint`.
  absl::StatusOr<ndx::v1::Adapter::Stub*> Find(const std::string& endpoint,
                                               const std::string& owner_node_id);

 private:
  using StubMap = absl::flat_hash_map<std::string, std::shared_ptr<ndx::v1::Adapter::Stub>>;

  const crypto::TlsFilePaths gateway_tls_;
  // One watch of the gateway's files for every adapter channel.
  const std::shared_ptr<grpc::experimental::CertificateProviderInterface> gateway_tls_watch_;
  const std::string trust_domain_;
  const int max_message_bytes_;
  GatewayMetrics* const metrics_;
  std::atomic<std::shared_ptr<const StubMap>> stubs_{std::make_shared<const StubMap>()};
  absl::Mutex create_mutex_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_ADAPTER_POOL_H_
