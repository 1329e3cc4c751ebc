#include "testing/postgres_server.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace ndx::testing {
namespace {

// The newest installed server's bin directory, e.g. /usr/lib/postgresql/15/bin; empty if none.
std::string ServerBinDir() {
  std::error_code error;
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", error)) {
    if (std::filesystem::exists(entry.path() / "bin" / "postgres")) {
      found.push_back((entry.path() / "bin").string());
    }
  }
  if (found.empty()) return "";
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return found.back();
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

// Forks `argv` as the postgres user, output to `log`. With `own_group`, in a process group of
// its own and killed when this process dies. Returns the child's pid.
absl::StatusOr<pid_t> SpawnAsPostgres(const std::vector<std::string>& argv, const std::string& log,
                                      bool own_group) {
  const passwd* user = ::getpwnam("postgres");
  if (user == nullptr) return absl::FailedPreconditionError("no postgres user");
  const uid_t uid = user->pw_uid;
  const gid_t gid = user->pw_gid;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    if (own_group) ::setpgid(0, 0);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(126);
    // After setuid, which clears it; it survives the exec.
    if (own_group) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
    }
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

struct ConnectionDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};

}  // namespace

std::string PostgresServer::Unavailable() {
  if (ServerBinDir().empty()) return "no PostgreSQL server under /usr/lib/postgresql";
  if (::getpwnam("postgres") == nullptr) return "no postgres system user";
  if (::geteuid() != 0) return "the tests do not run as root, which alone can start it as postgres";
  return "";
}

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start(
    const std::optional<Tls>& tls) {
  if (std::string why = Unavailable(); !why.empty()) return absl::FailedPreconditionError(why);
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  const passwd* user = ::getpwnam("postgres");
  const std::string& dir = server->dir_.path();
  if (::chown(dir.c_str(), user->pw_uid, user->pw_gid) != 0) {
    return absl::InternalError(absl::StrCat("cannot give ", dir, " to postgres"));
  }
  const std::string bin = ServerBinDir();
  const std::string data = dir + "/data";
  const std::string log = dir + "/server.log";
  absl::StatusOr<pid_t> initdb =
      SpawnAsPostgres({bin + "/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                       "--locale=C", "--no-sync"},
                      log, /*own_group=*/false);
  if (!initdb.ok()) return initdb.status();
  int status = 0;
  ::waitpid(*initdb, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("initdb failed; see ", log));
  }
  server->port_ = FreePort();
  std::vector<std::string> argv = {bin + "/postgres",
                                   "-D",
                                   data,
                                   "-p",
                                   absl::StrCat(server->port_),
                                   "-k",
                                   dir,
                                   "-c",
                                   "listen_addresses=127.0.0.1",
                                   "-c",
                                   "fsync=off",
                                   "-c",
                                   "shared_buffers=16MB",
                                   "-c",
                                   "max_connections=40"};
  if (tls.has_value()) {
    for (const auto& [from, to] : {std::pair{tls->cert_file, dir + "/server.pem"},
                                   std::pair{tls->key_file, dir + "/server.key"}}) {
      std::error_code error;
      std::filesystem::copy_file(from, to, error);
      if (error || ::chown(to.c_str(), user->pw_uid, user->pw_gid) != 0 ||
          ::chmod(to.c_str(), 0600) != 0) {
        return absl::InternalError(absl::StrCat("cannot give ", from, " to postgres"));
      }
    }
    argv.insert(argv.end(), {"-c", "ssl=on", "-c", "ssl_cert_file=" + dir + "/server.pem", "-c",
                             "ssl_key_file=" + dir + "/server.key"});
  }
  absl::StatusOr<pid_t> postgres = SpawnAsPostgres(argv, log, /*own_group=*/true);
  if (!postgres.ok()) return postgres.status();
  server->pid_ = *postgres;
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  const std::string ping = server->ConnectionString();
  while (PQping(ping.c_str()) != PQPING_OK) {
    if (absl::Now() > give_up || ::waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
      return absl::InternalError(absl::StrCat("PostgreSQL did not start; see ", log));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return server;
}

PostgresServer::~PostgresServer() {
  if (pid_ <= 0) return;
  // SIGQUIT: immediate shutdown; the cluster is thrown away with the directory.
  ::kill(pid_, SIGQUIT);
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, &status, WNOHANG);
}

std::string PostgresServer::ConnectionString(const std::string& database) const {
  return absl::StrCat("host=127.0.0.1 port=", port_, " dbname=", database,
                      " user=postgres connect_timeout=5");
}

absl::Status PostgresServer::Exec(const std::string& sql, const std::string& database) const {
  return Query(sql, database).status();
}

absl::StatusOr<std::string> PostgresServer::Query(const std::string& sql,
                                                  const std::string& database) const {
  std::unique_ptr<PGconn, ConnectionDeleter> conn(PQconnectdb(ConnectionString(database).c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(PQerrorMessage(conn.get()));
  }
  std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn.get(), sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return absl::InternalError(absl::StrCat(sql, ": ", PQerrorMessage(conn.get())));
  }
  // A statement that returns no row (CREATE, INSERT) reads as "".
  if (PQntuples(result.get()) < 1 || PQnfields(result.get()) < 1) return std::string();
  return std::string(PQgetvalue(result.get(), 0, 0));
}

}  // namespace ndx::testing
