#include "integration/gateway_cluster.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/gateway_client.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/hash.h"
#include "crypto/tls.h"

namespace ndx::testing {

absl::StatusOr<std::unique_ptr<GatewayCluster>> GatewayCluster::Start(
    Federation& federation, GatewayClusterOptions options) {
  std::unique_ptr<GatewayCluster> cluster(new GatewayCluster(federation, std::move(options)));
  NDX_ASSIGN_OR_RETURN(cluster->etcd_,
                       EtcdCluster::Start(federation.pki(), cluster->options_.etcd_members));
  NDX_ASSIGN_OR_RETURN(cluster->nats_,
                       NatsCluster::Start(federation.pki(), cluster->options_.nats_servers));
  // Keys every replica must share: page tokens and sealed event keys open on any replica, and a
  // subject has one pseudonym in every replica's log.
  NDX_RETURN_IF_ERROR(MakePrivateDirectory(federation.dir().Join("shared")));
  for (const char* key : {"shared/sealing.key", "shared/pseudonym.key"}) {
    NDX_RETURN_IF_ERROR(
        WriteFileAtomically(federation.dir().Join(key), crypto::RandomBytes(32), 0600));
  }
  cluster->replicas_.resize(cluster->options_.replicas);
  for (Replica& replica : cluster->replicas_) {
    NDX_ASSIGN_OR_RETURN(replica.reservation, ReservedPort::Reserve());
    replica.port = replica.reservation.port();
  }
  for (int i = 0; i < cluster->size(); ++i) NDX_RETURN_IF_ERROR(cluster->StartReplica(i));
  federation.UseGatewayAt(cluster->port(0));
  return cluster;
}

GatewayCluster::~GatewayCluster() {
  // Replicas before etcd, so that each leaves the cluster as it stops.
  for (Replica& replica : replicas_) replica.process.reset();
}

std::string GatewayCluster::Dir(int i) const {
  return federation_.dir().Join(absl::StrCat("replica-", i + 1));
}

std::string GatewayCluster::audit_dir(int i) const { return Dir(i) + "/data/audit"; }

std::string GatewayCluster::address(int i) const {
  return absl::StrCat("127.0.0.1:", replicas_[i].port);
}

std::string GatewayCluster::addresses() const {
  std::vector<std::string> all;
  for (int i = 0; i < size(); ++i) all.push_back(address(i));
  return absl::StrJoin(all, ",");
}

std::string GatewayCluster::ReplicaLog(int i) const {
  return ReadFile(Dir(i) + "/gateway.log").value_or("");
}

std::string GatewayCluster::Config(int i) const {
  crypto::TlsFilePaths tls = federation_.pki().Gateway("core");
  crypto::TlsFilePaths cluster_tls = federation_.pki().ClusterMember(replica_id(i));
  const std::string shared = federation_.dir().Join("shared");
  return absl::StrCat(
      "listen_address: \"127.0.0.1:", replicas_[i].port, "\"\n",  // the same port after a restart
      "trust_domain: \"", TestPki::kTrustDomain, "\"\n",          //
      "tls { ca_file: \"", tls.ca_file, "\" cert_file: \"", tls.cert_file, "\" key_file: \"",
      tls.key_file, "\" }\n",               //
      "data_dir: \"", Dir(i), "/data\"\n",  //
      "sealing_key_file: \"", shared, "/sealing.key\"\n", "audit { pseudonym_key_file: \"", shared,
      "/pseudonym.key\" checkpoint_interval_seconds: 1 }\n", "bootstrap_operators: \"",
      kOperatorNode, "\"\n",         //
      "adapter_timeout_ms: 2000\n",  //
      "cluster {\n  replica_id: \"", replica_id(i), "\"\n",
      "  registry_staleness_ms: ", options_.registry_staleness_ms, "\n",
      "  membership_ttl_seconds: ", options_.membership_ttl_seconds, "\n",
      "  etcd {\n    endpoints: \"", absl::StrJoin(etcd_->endpoints(), "\" endpoints: \""), "\"\n",
      "    tls { ca_file: \"", cluster_tls.ca_file, "\" cert_file: \"", cluster_tls.cert_file,
      "\" key_file: \"", cluster_tls.key_file, "\" }\n  }\n", "  nats {\n    urls: \"",
      absl::StrJoin(nats_->urls(), "\" urls: \""), "\"\n", "    stream_replicas: ", nats_->size(),
      "\n", "    tls { ca_file: \"", cluster_tls.ca_file, "\" cert_file: \"", cluster_tls.cert_file,
      "\" key_file: \"", cluster_tls.key_file, "\" }\n  }\n}\n", options_.extra_config);
}

absl::Status GatewayCluster::StartReplica(int i) {
  Replica& replica = replicas_[i];
  replica.process.reset();
  NDX_RETURN_IF_ERROR(MakePrivateDirectory(Dir(i)));
  const std::string config_path = Dir(i) + "/gateway.textproto";
  NDX_RETURN_IF_ERROR(WriteFileAtomically(config_path, Config(i), 0644));
  const std::string port_file = absl::StrCat(Dir(i), "/port.", ++replica.starts);
  NDX_ASSIGN_OR_RETURN(
      ChildProcess process,
      ChildProcess::Start(NDX_GATEWAY_BIN, {"--config", config_path, "--port_file", port_file},
                          Dir(i) + "/gateway.log"));
  replica.process.emplace(std::move(process));
  if (!WaitForPortFile(port_file, absl::Seconds(30), &*replica.process).ok()) {
    return absl::UnavailableError(
        absl::StrCat("replica ", replica_id(i), " did not start: ", ReplicaLog(i)));
  }
  return absl::OkStatus();
}

void GatewayCluster::KillReplica(int i) {
  if (replicas_[i].process.has_value()) replicas_[i].process->Kill();
  replicas_[i].process.reset();
}

std::shared_ptr<grpc::Channel> GatewayCluster::ChannelTo(int i, const std::string& node_id) {
  auto credentials = crypto::MakeChannelCredentials(
      federation_.pki().Node(node_id), crypto::SpiffeId::Gateway(TestPki::kTrustDomain, "core"));
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address(i), *credentials, args);
}

std::shared_ptr<grpc::Channel> GatewayCluster::BalancedChannel(const std::string& node_id) {
  auto credentials = crypto::MakeChannelCredentials(
      federation_.pki().Node(node_id), crypto::SpiffeId::Gateway(TestPki::kTrustDomain, "core"));
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  absl::StatusOr<std::string> target = cli::GatewayTarget(addresses());
  EXPECT_TRUE(target.ok()) << target.status();
  grpc::ChannelArguments args = cli::GatewayChannelArguments(cli::GatewayRetries::kIdempotent);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target.value_or(""), *credentials, args);
}

}  // namespace ndx::testing
