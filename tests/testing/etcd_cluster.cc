#include "testing/etcd_cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace ndx::testing {
namespace {

constexpr char kEtcdBinary[] = "/usr/bin/etcd";
// Generous for a loaded CI machine with two cores; an idle one needs well under a second.
constexpr absl::Duration kStartTimeout = absl::Seconds(30);

std::string Url(int port) { return absl::StrCat("https://127.0.0.1:", port); }

// Kills the process group of `pid` and reaps `pid`.
void KillGroup(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace

std::string EtcdCluster::Unavailable() {
  if (::access(kEtcdBinary, X_OK) != 0) return "no etcd at /usr/bin/etcd (Debian's etcd-server)";
  return "";
}

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(TestPki& pki, int members) {
  if (members != 1 && members != 3) {
    return absl::InvalidArgumentError("an etcd cluster of a test has 1 or 3 members");
  }
  if (std::string why = Unavailable(); !why.empty()) return absl::FailedPreconditionError(why);
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster());
  static std::atomic<int> clusters{0};
  cluster->cluster_token_ = absl::StrCat("ndx-test-", ::getpid(), "-", clusters++);
  cluster->client_tls_ = pki.ClusterMember("client");
  std::vector<std::string> peers;
  for (int i = 0; i < members; ++i) {
    Member member;
    member.name = absl::StrCat("etcd-", i);
    member.dir = cluster->dir_.Join(member.name);
    std::error_code error;
    std::filesystem::create_directories(member.dir, error);
    if (error) return absl::InternalError(absl::StrCat("cannot create ", member.dir));
    // Reserved for the cluster's life, so that a restarted member gets its ports back.
    absl::StatusOr<ReservedPort> client = ReservedPort::Reserve();
    if (!client.ok()) return client.status();
    absl::StatusOr<ReservedPort> peer = ReservedPort::Reserve();
    if (!peer.ok()) return peer.status();
    member.client_port = client->port();
    member.peer_port = peer->port();
    member.client_reservation = *std::move(client);
    member.peer_reservation = *std::move(peer);
    member.tls = pki.ClusterMember(member.name);
    peers.push_back(absl::StrCat(member.name, "=", Url(member.peer_port)));
    cluster->endpoints_.push_back(absl::StrCat("127.0.0.1:", member.client_port));
    cluster->members_.push_back(std::move(member));
  }
  cluster->initial_cluster_ = absl::StrJoin(peers, ",");
  absl::Status started = cluster->StartAll();
  if (!started.ok()) return started;
  return cluster;
}

EtcdCluster::~EtcdCluster() {
  for (Member& member : members_) {
    if (member.pid > 0) KillGroup(member.pid);
  }
}

cluster::EtcdOptions EtcdCluster::ClientOptions() const {
  cluster::EtcdOptions options;
  options.endpoints = endpoints_;
  options.tls = client_tls_;
  return options;
}

absl::Status EtcdCluster::Spawn(int i) {
  Member& member = members_[i];
  const std::string client_url = Url(member.client_port);
  const std::string peer_url = Url(member.peer_port);
  // Flags: https on both faces with certificates of the cluster CA required of clients and
  // peers; a heartbeat of 50 ms and an election timeout of 500 ms, so that a new leader is
  // elected within about a second of a crash (etcd's defaults take several); pre-vote, so that a
  // restarted member does not depose a healthy leader; progress notifications every second for
  // watches that ask for them; warnings only, into a file of the member's directory.
  std::vector<std::string> argv = {
      kEtcdBinary,
      "--name=" + member.name,
      "--data-dir=" + member.dir + "/data",
      "--listen-client-urls=" + client_url,
      "--advertise-client-urls=" + client_url,
      "--listen-peer-urls=" + peer_url,
      "--initial-advertise-peer-urls=" + peer_url,
      "--initial-cluster=" + initial_cluster_,
      "--initial-cluster-token=" + cluster_token_,
      // Ignored once the data directory holds a member: a restart rejoins the same cluster.
      "--initial-cluster-state=new",
      "--cert-file=" + member.tls.cert_file,
      "--key-file=" + member.tls.key_file,
      "--trusted-ca-file=" + member.tls.ca_file,
      "--client-cert-auth",
      "--peer-cert-file=" + member.tls.cert_file,
      "--peer-key-file=" + member.tls.key_file,
      "--peer-trusted-ca-file=" + member.tls.ca_file,
      "--peer-client-cert-auth",
      "--heartbeat-interval=50",
      "--election-timeout=500",
      "--pre-vote",
      "--experimental-watch-progress-notify-interval=1s",
      "--logger=zap",
      "--log-level=warn",
      "--log-outputs=" + member.dir + "/etcd.log",
  };
  const std::string stderr_file = member.dir + "/etcd.stderr";
  // Made before fork(): the child of a threaded process may not allocate.
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    // The member dies with the thread that started it, even when that is by SIGKILL.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    const int fd = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  // Also here, so that a kill of the group right after fork() finds it.
  ::setpgid(pid, pid);
  member.pid = pid;
  return absl::OkStatus();
}

std::string EtcdCluster::LogTail(int i) const {
  std::string tail;
  for (const char* name : {"/etcd.stderr", "/etcd.log"}) {
    std::ifstream file(members_[i].dir + name);
    std::stringstream content;
    content << file.rdbuf();
    std::string text = content.str();
    if (text.size() > 1500) text = "..." + text.substr(text.size() - 1500);
    if (!text.empty()) absl::StrAppend(&tail, "\n", members_[i].dir, name, ":\n", text);
  }
  return tail;
}

absl::Status EtcdCluster::WaitServing(int i, absl::Duration timeout) {
  cluster::EtcdOptions options = ClientOptions();
  options.endpoints = {endpoints_[i]};
  options.call_timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<cluster::EtcdClient>> client =
      cluster::EtcdClient::Connect(options);
  if (!client.ok()) return client.status();
  etcdserverpb::RangeRequest ping;
  ping.set_key("ndx-test-ping");
  const absl::Time give_up = absl::Now() + timeout;
  absl::Status last;
  while (true) {
    last = (*client)->Range(ping).status();
    if (last.ok()) return absl::OkStatus();
    int status = 0;
    if (::waitpid(members_[i].pid, &status, WNOHANG) == members_[i].pid) {
      members_[i].pid = -1;
      return absl::InternalError(
          absl::StrCat("etcd member ", members_[i].name, " exited", LogTail(i)));
    }
    if (absl::Now() > give_up) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("etcd member ", members_[i].name,
                                                  " did not answer: ", last.message(), LogTail(i)));
}

void EtcdCluster::Kill(int i) {
  if (members_[i].pid <= 0) return;
  KillGroup(members_[i].pid);
  members_[i].pid = -1;
}

absl::Status EtcdCluster::Restart(int i) {
  Kill(i);
  absl::Status spawned = Spawn(i);
  if (!spawned.ok()) return spawned;
  return WaitServing(i, kStartTimeout);
}

void EtcdCluster::StopAll() {
  for (int i = 0; i < size(); ++i) Kill(i);
}

absl::Status EtcdCluster::StartAll() {
  // All first: a member of three answers only once a quorum runs.
  for (int i = 0; i < size(); ++i) {
    if (members_[i].pid > 0) continue;
    absl::Status spawned = Spawn(i);
    if (!spawned.ok()) return spawned;
  }
  for (int i = 0; i < size(); ++i) {
    absl::Status serving = WaitServing(i, kStartTimeout);
    if (!serving.ok()) return serving;
  }
  return absl::OkStatus();
}

}  // namespace ndx::testing
