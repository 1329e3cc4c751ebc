#ifndef NDX_CLUSTER_ETCD_CLIENT_H_
#define NDX_CLUSTER_ETCD_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypto/tls.h"
#include "etcd/api/etcdserverpb/rpc.grpc.pb.h"

namespace ndx::cluster {

struct EtcdOptions {
  // host:port of each member's client URL; calls are spread over them and fail over.
  std::vector<std::string> endpoints;
  // The client identity and the CA that the members' certificates chain to.
  crypto::TlsFilePaths tls;
  // Deadline of each unary call.
  absl::Duration call_timeout = absl::Seconds(2);
};

// A client of etcd's v3 gRPC API (KV, Watch, Lease) over mutual TLS. The calls take and return
// etcd's own messages; errors become absl::Status with the gRPC code kept and a message that
// names the call and the endpoints. Thread-safe.
class EtcdClient {
 public:
  // Makes the channel; does not wait for etcd (a call fails with kUnavailable while none answers).
  // kInvalidArgument for empty endpoints or unreadable TLS files.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Connect(const EtcdOptions& options);

  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& request);
  absl::StatusOr<etcdserverpb::PutResponse> Put(const etcdserverpb::PutRequest& request);
  absl::StatusOr<etcdserverpb::DeleteRangeResponse> DeleteRange(
      const etcdserverpb::DeleteRangeRequest& request);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(const etcdserverpb::TxnRequest& request);
  absl::StatusOr<etcdserverpb::LeaseGrantResponse> LeaseGrant(int64_t ttl_seconds);
  absl::Status LeaseRevoke(int64_t lease_id);
  // One keep-alive of `lease_id`; returns the TTL left, 0 or less when the lease is gone.
  absl::StatusOr<int64_t> LeaseKeepAliveOnce(int64_t lease_id);

  // etcd's Watch stream: `create` is sent first. Next() blocks for each response; it ends with an
  // error status when the stream breaks or Cancel() is called. RequestProgress() asks etcd for a
  // progress notification (a response without events whose header revision tells how far the
  // watch is synced). One thread calls Next(), any thread may call RequestProgress() and Cancel().
  class WatchStream {
   public:
    virtual ~WatchStream() = default;
    virtual absl::StatusOr<etcdserverpb::WatchResponse> Next() = 0;
    virtual bool RequestProgress() = 0;
    virtual void Cancel() = 0;
  };
  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(
      const etcdserverpb::WatchCreateRequest& create);

  const std::vector<std::string>& endpoints() const;

 private:
  EtcdClient(std::vector<std::string> endpoints, absl::Duration call_timeout,
             std::shared_ptr<grpc::Channel> channel);
  // The status of a failed call: its gRPC code, a message naming `method` and the endpoints.
  absl::Status CallError(const char* method, const grpc::Status& status) const;
  // A context with the call deadline.
  void SetDeadline(grpc::ClientContext& context) const;

  const std::vector<std::string> endpoints_;
  // The endpoints joined with ',', for messages.
  const std::string endpoint_list_;
  const absl::Duration call_timeout_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  const std::unique_ptr<etcdserverpb::Watch::Stub> watch_;
  const std::unique_ptr<etcdserverpb::Lease::Stub> lease_;
};

// The gRPC target for `endpoints` (host:port each): the one endpoint as it is, or for several,
// an "ipv4:" or "ipv6:" address list that round_robin spreads the calls over. kInvalidArgument for
// none, or for several that are not all IPv4 or all IPv6 addresses with a port (give one DNS name
// that resolves to every member instead).
absl::StatusOr<std::string> EtcdTarget(const std::vector<std::string>& endpoints);

// The smallest key greater than every key that starts with `prefix`: a range end for a prefix.
std::string PrefixRangeEnd(const std::string& prefix);

}  // namespace ndx::cluster

#endif  // NDX_CLUSTER_ETCD_CLIENT_H_
