#ifndef NDX_TESTS_TESTING_NATS_CLUSTER_H_
#define NDX_TESTS_TESTING_NATS_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/tls.h"
#include "testing/reserved_port.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace ndx::testing {

// NATS servers of a test's own, from Debian's nats-server: 1 standalone or 3 in a cluster, with
// JetStream, each with its store in a temporary directory, its client and route ports free on
// 127.0.0.1, and TLS everywhere: clients must present a certificate of the cluster CA
// (TestPki::ClusterMember), and routes are TLS with client certificates too. There is no
// monitoring port and no plaintext listener. Each server runs in a process group of its own and
// dies with the test process (PR_SET_PDEATHSIG); the destructor kills them all. Not thread-safe.
class NatsCluster {
 public:
  // Why servers cannot be started here (no nats-server); empty when they can.
  static std::string Unavailable();

  // Starts `servers` (1 or 3) servers and returns once JetStream answers (in a cluster: once a
  // meta leader is elected).
  static absl::StatusOr<std::unique_ptr<NatsCluster>> Start(TestPki& pki, int servers);
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  // tls://127.0.0.1:<client port> of every server, dead or alive.
  std::vector<std::string> urls() const;
  // A client identity of the cluster CA.
  const crypto::TlsFilePaths& client_tls() const { return client_tls_; }
  // The directory of server `i`'s JetStream store.
  std::string store_dir(int i) const;
  int size() const { return static_cast<int>(servers_.size()); }

  // SIGKILLs server `i` (its store stays).
  void Kill(int i);
  // Starts server `i` again on its store and ports, and waits until JetStream answers.
  absl::Status Restart(int i);

 private:
  struct Server {
    std::string name;
    std::string config_file;
    std::string log_file;
    int client_port = 0;
    int route_port = 0;
    ReservedPort client_reservation;
    ReservedPort route_reservation;
    pid_t pid = -1;
  };

  NatsCluster() = default;
  absl::Status Spawn(Server& server);
  // Waits until a client connected to `url` gets JetStream's account information.
  absl::Status WaitJetStream(const std::string& url, absl::Duration timeout) const;

  TempDir dir_;
  crypto::TlsFilePaths client_tls_;
  std::vector<Server> servers_;
};

}  // namespace ndx::testing

#endif  // NDX_TESTS_TESTING_NATS_CLUSTER_H_
