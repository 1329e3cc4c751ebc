#include "testing/nats_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace ndx::testing {
namespace {

constexpr char kNatsServer[] = "/usr/sbin/nats-server";
// A cluster elects its meta leader in a few seconds; a slow CI machine gets more.
const absl::Duration kReadyTimeout = absl::Seconds(60);

// nats-server's configuration syntax takes JSON-style quoted strings.
std::string Quoted(const std::string& value) { return absl::StrCat("\"", value, "\""); }

std::string TlsBlock(const crypto::TlsFilePaths& tls) {
  return absl::StrCat(
      "{\n    cert_file: ", Quoted(tls.cert_file), "\n    key_file: ", Quoted(tls.key_file),
      "\n    ca_file: ", Quoted(tls.ca_file), "\n    verify: true\n    timeout: 5\n  }");
}

}  // namespace

std::string NatsCluster::Unavailable() {
  if (::access(kNatsServer, X_OK) != 0) return absl::StrCat(kNatsServer, " is not installed");
  return "";
}

absl::StatusOr<std::unique_ptr<NatsCluster>> NatsCluster::Start(TestPki& pki, int servers) {
  if (servers != 1 && servers != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("a test NATS cluster has 1 or 3 servers, not ", servers));
  }
  if (std::string why = Unavailable(); !why.empty()) return absl::FailedPreconditionError(why);
  std::unique_ptr<NatsCluster> cluster(new NatsCluster());
  cluster->client_tls_ = pki.ClusterMember("client");
  for (int i = 0; i < servers; ++i) {
    Server& server = cluster->servers_.emplace_back();
    server.name = absl::StrCat("nats-", i);
    // Held while the cluster lives, so that a restarted server gets its ports back.
    NDX_ASSIGN_OR_RETURN(server.client_reservation, ReservedPort::Reserve());
    NDX_ASSIGN_OR_RETURN(server.route_reservation, ReservedPort::Reserve());
    server.client_port = server.client_reservation.port();
    server.route_port = server.route_reservation.port();
    server.config_file = cluster->dir_.Join(server.name + ".conf");
    server.log_file = cluster->dir_.Join(server.name + ".log");
  }
  for (int i = 0; i < servers; ++i) {
    Server& server = cluster->servers_[i];
    std::string config = absl::StrCat("server_name: ", Quoted(server.name),
                                      "\nlisten: \"127.0.0.1:", server.client_port, "\"\n",
                                      "jetstream {\n  store_dir: ", Quoted(cluster->store_dir(i)),
                                      "\n  max_memory_store: 64MB\n  max_file_store: 1GB\n}\n",
                                      "tls ", TlsBlock(pki.ClusterMember(server.name)), "\n");
    if (servers > 1) {
      std::vector<std::string> routes;
      for (const Server& other : cluster->servers_) {
        if (other.name != server.name) {
          routes.push_back(Quoted(absl::StrCat("tls://127.0.0.1:", other.route_port)));
        }
      }
      absl::StrAppend(&config,
                      "cluster {\n  name: \"ndx-test\"\n  listen: \"127.0.0.1:", server.route_port,
                      "\"\n  routes: [", absl::StrJoin(routes, ", "), "]\n  tls ",
                      TlsBlock(pki.ClusterMember(server.name)), "\n}\n");
    }
    std::ofstream(server.config_file) << config;
  }
  for (Server& server : cluster->servers_) {
    if (absl::Status spawned = cluster->Spawn(server); !spawned.ok()) return spawned;
  }
  for (const std::string& url : cluster->urls()) {
    if (absl::Status ready = cluster->WaitJetStream(url, kReadyTimeout); !ready.ok()) {
      return ready;
    }
  }
  return cluster;
}

NatsCluster::~NatsCluster() {
  for (int i = 0; i < size(); ++i) Kill(i);
}

std::vector<std::string> NatsCluster::urls() const {
  std::vector<std::string> urls;
  for (const Server& server : servers_) {
    urls.push_back(absl::StrCat("tls://127.0.0.1:", server.client_port));
  }
  return urls;
}

std::string NatsCluster::store_dir(int i) const { return dir_.Join(absl::StrCat("store-", i)); }

absl::Status NatsCluster::Spawn(Server& server) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died before prctl: then nothing would kill this child.
    if (::getppid() != parent) ::_exit(1);
    int fd = ::open(server.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    ::execl(kNatsServer, kNatsServer, "-c", server.config_file.c_str(), nullptr);
    ::_exit(127);
  }
  server.pid = pid;
  return absl::OkStatus();
}

void NatsCluster::Kill(int i) {
  Server& server = servers_[i];
  if (server.pid <= 0) return;
  ::kill(-server.pid, SIGKILL);
  ::kill(server.pid, SIGKILL);
  int status = 0;
  ::waitpid(server.pid, &status, 0);
  server.pid = -1;
}

absl::Status NatsCluster::Restart(int i) {
  Kill(i);
  if (absl::Status spawned = Spawn(servers_[i]); !spawned.ok()) return spawned;
  return WaitJetStream(urls()[i], kReadyTimeout);
}

absl::Status NatsCluster::WaitJetStream(const std::string& url, absl::Duration timeout) const {
  const absl::Time give_up = absl::Now() + timeout;
  std::string last_error = "no answer";
  while (absl::Now() < give_up) {
    natsOptions* options = nullptr;
    natsConnection* connection = nullptr;
    jsCtx* js = nullptr;
    jsAccountInfo* info = nullptr;
    const char* server = url.c_str();
    natsStatus s = natsOptions_Create(&options);
    if (s == NATS_OK) s = natsOptions_SetServers(options, &server, 1);
    if (s == NATS_OK) s = natsOptions_SetSecure(options, true);
    if (s == NATS_OK)
      s = natsOptions_LoadCATrustedCertificates(options, client_tls_.ca_file.c_str());
    if (s == NATS_OK) {
      s = natsOptions_LoadCertificatesChain(options, client_tls_.cert_file.c_str(),
                                            client_tls_.key_file.c_str());
    }
    if (s == NATS_OK) s = natsOptions_SetTimeout(options, 2000);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(options, 0);
    if (s == NATS_OK) s = natsConnection_Connect(&connection, options);
    if (s == NATS_OK) s = natsConnection_JetStream(&js, connection, nullptr);
    jsErrCode error = static_cast<jsErrCode>(0);
    if (s == NATS_OK) s = js_GetAccountInfo(&info, js, nullptr, &error);
    if (s != NATS_OK) {
      const char* text = nats_GetLastError(nullptr);
      last_error = absl::StrCat(natsStatus_GetText(s), ": ", text == nullptr ? "" : text);
    }
    if (info != nullptr) jsAccountInfo_Destroy(info);
    if (js != nullptr) jsCtx_Destroy(js);
    if (connection != nullptr) natsConnection_Destroy(connection);
    if (options != nullptr) natsOptions_Destroy(options);
    if (s == NATS_OK) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("JetStream at ", url, " not ready after ",
                                                  absl::FormatDuration(timeout), " (", last_error,
                                                  "); see the server logs in ", dir_.path()));
}

}  // namespace ndx::testing
