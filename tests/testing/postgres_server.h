#ifndef NDX_TESTS_TESTING_POSTGRES_SERVER_H_
#define NDX_TESTS_TESTING_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "testing/temp_dir.h"

namespace ndx::testing {

// A PostgreSQL server of a test's own, from Debian's postgresql package: a fresh cluster in a
// temporary directory, listening on 127.0.0.1 on a free port (and a socket in that directory),
// with trust authentication for the "postgres" role. PostgreSQL refuses to run as root, so the
// server runs as the postgres system user the package creates. The destructor stops it and
// everything it spawned; if the test process dies first, the kernel kills the server with it
// (PR_SET_PDEATHSIG), and its backends follow their postmaster. Not thread-safe.
class PostgresServer {
 public:
  // Why a server cannot be started here (no server binaries, no postgres user, not running as
  // root or postgres); empty when it can.
  static std::string Unavailable();

  // With `tls`, the server also accepts TLS with this certificate and key (copied into its
  // directory, as PostgreSQL wants them owned by its user).
  struct Tls {
    std::string cert_file;
    std::string key_file;
  };
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start(const std::optional<Tls>& tls = {});
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // libpq's connection string for `database` as the postgres role over TCP.
  std::string ConnectionString(const std::string& database = "postgres") const;
  // Runs `sql` (several statements allowed) in `database`.
  absl::Status Exec(const std::string& sql, const std::string& database = "postgres") const;
  // The first column of the first row of `sql`, as text ("" when it returns no row).
  absl::StatusOr<std::string> Query(const std::string& sql,
                                    const std::string& database = "postgres") const;

 private:
  PostgresServer() = default;

  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ndx::testing

#endif  // NDX_TESTS_TESTING_POSTGRES_SERVER_H_
