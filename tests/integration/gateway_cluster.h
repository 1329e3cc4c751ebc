#ifndef NDX_TESTS_INTEGRATION_GATEWAY_CLUSTER_H_
#define NDX_TESTS_INTEGRATION_GATEWAY_CLUSTER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "integration/child_process.h"
#include "integration/federation.h"
#include "testing/etcd_cluster.h"
#include "testing/nats_cluster.h"
#include "testing/reserved_port.h"

namespace ndx::testing {

struct GatewayClusterOptions {
  int replicas = 3;
  int etcd_members = 1;
  int nats_servers = 1;
  uint32_t registry_staleness_ms = 2000;
  uint32_t membership_ttl_seconds = 2;
  // Appended to every replica's text-proto config.
  std::string extra_config;
};

// Gateway replicas of one cluster on 127.0.0.1 (real ndx-gateway processes), over an etcd cluster
// and NATS servers it starts, beside the population adapter and PKI of `federation`, whose registry
// calls it points at replica 0. Every replica shares the sealing and pseudonym keys and has its own
// data and audit directory. The destructor stops every process. Not thread-safe.
class GatewayCluster {
 public:
  static absl::StatusOr<std::unique_ptr<GatewayCluster>> Start(Federation& federation,
                                                               GatewayClusterOptions options = {});
  ~GatewayCluster();

  // Starts replica `i` (again: same port, same data); waits until it serves.
  absl::Status StartReplica(int i);
  // SIGKILL, as a crash would.
  void KillReplica(int i);
  bool running(int i) const { return replicas_[i].process.has_value(); }

  int size() const { return static_cast<int>(replicas_.size()); }
  int port(int i) const { return replicas_[i].port; }
  std::string address(int i) const;
  // Every replica's address, comma-separated, as ndxctl --gateway takes them.
  std::string addresses() const;
  std::string replica_id(int i) const { return absl::StrCat("gw-", i + 1); }
  std::string audit_dir(int i) const;
  std::string ReplicaLog(int i) const;

  // A channel to replica `i` alone, as `node_id`.
  std::shared_ptr<grpc::Channel> ChannelTo(int i, const std::string& node_id);
  // A channel over every replica, as `node_id`, balanced and retrying idempotent calls on
  // UNAVAILABLE, as ndxctl makes it.
  std::shared_ptr<grpc::Channel> BalancedChannel(const std::string& node_id);

  EtcdCluster& etcd() { return *etcd_; }
  NatsCluster& nats() { return *nats_; }

 private:
  struct Replica {
    // Chosen before the first start: a replica's address is known to the others, so a restarted
    // replica comes back on the same port.
    ReservedPort reservation;
    int port = 0;
    int starts = 0;
    std::optional<ChildProcess> process;
  };

  GatewayCluster(Federation& federation, GatewayClusterOptions options)
      : federation_(federation), options_(std::move(options)) {}
  std::string Config(int i) const;
  std::string Dir(int i) const;

  Federation& federation_;
  const GatewayClusterOptions options_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<NatsCluster> nats_;
  std::vector<Replica> replicas_;
};

}  // namespace ndx::testing

#endif  // NDX_TESTS_INTEGRATION_GATEWAY_CLUSTER_H_
