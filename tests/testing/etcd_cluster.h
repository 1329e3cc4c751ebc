#ifndef NDX_TESTS_TESTING_ETCD_CLUSTER_H_
#define NDX_TESTS_TESTING_ETCD_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cluster/etcd_client.h"
#include "crypto/tls.h"
#include "testing/reserved_port.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace ndx::testing {

// An etcd cluster of a test's own: 1 or 3 members of Debian's etcd-server as child processes,
// each with its data in a temporary directory and its client and peer URLs on 127.0.0.1 on
// ports of its own (https only: clients and peers must present a certificate of the cluster CA
// of TestPki). Members can be crashed and restarted on the same data and ports. The destructor
// kills every member; if the test process dies first, the kernel kills them with it
// (PR_SET_PDEATHSIG). Not thread-safe; call it from the test's main thread, since the members
// die with the thread that started them.
class EtcdCluster {
 public:
  // Why etcd cannot be started here (no /usr/bin/etcd); empty when it can.
  static std::string Unavailable();

  // Starts `members` members (1 or 3) and waits until each answers a linearizable read.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(TestPki& pki, int members = 1);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  // host:port of each member's client URL, in member order.
  const std::vector<std::string>& endpoints() const { return endpoints_; }
  // A client identity of the cluster CA (spiffe://cluster.ndx.test/gateway/client).
  const crypto::TlsFilePaths& client_tls() const { return client_tls_; }
  // Options of an EtcdClient to every member with client_tls().
  cluster::EtcdOptions ClientOptions() const;

  // Crashes member `i` (SIGKILL) and reaps it. No-op when it is not running.
  void Kill(int i);
  // Starts member `i` again (killing it first if it runs) on the same data and ports, and waits
  // until it answers a linearizable read, i.e. has rejoined a quorum.
  absl::Status Restart(int i);
  // Crashes every member: clients lose etcd altogether.
  void StopAll();
  // Starts every member that is not running, on the same data, and waits until each answers.
  absl::Status StartAll();

 private:
  struct Member {
    std::string name;
    std::string dir;
    int client_port = 0;
    int peer_port = 0;
    ReservedPort client_reservation;
    ReservedPort peer_reservation;
    crypto::TlsFilePaths tls;
    pid_t pid = -1;
  };

  EtcdCluster() = default;
  // Forks and execs member `i`.
  absl::Status Spawn(int i);
  // Waits until member `i` answers a linearizable Range; an error with the tail of its log when
  // it exits or does not answer in time.
  absl::Status WaitServing(int i, absl::Duration timeout);
  std::string LogTail(int i) const;

  TempDir dir_;
  std::string initial_cluster_;
  std::string cluster_token_;
  std::vector<Member> members_;
  std::vector<std::string> endpoints_;
  crypto::TlsFilePaths client_tls_;
};

}  // namespace ndx::testing

#endif  // NDX_TESTS_TESTING_ETCD_CLUSTER_H_
