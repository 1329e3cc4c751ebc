#ifndef NDX_ADAPTERS_SQLITE_BACKEND_H_
#define NDX_ADAPTERS_SQLITE_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/backend.h"
#include "adapters/connection_pool.h"

namespace ndx::adapters {

class SqliteConnection;

struct SqliteBackendOptions {
  // Connections opened at most; a call waits for a free one up to `busy_timeout`.
  int max_connections = 8;
  // How long a call waits for a free connection, and for the agency's writers to release the
  // database lock, before failing with kUnavailable.
  absl::Duration busy_timeout = absl::Seconds(2);
};

// A Backend over one SQLite database file, opened read-only (and with query_only set, so that not
// even a bug here could write). Values only ever reach SQL as bound parameters; identifiers come
// from the validated config and are double-quoted. SQLite has no array type, so a binding with a
// repeated field is refused at load.
//
// Connections: a ConnectionPool. Each connection is used by one call at a time (hence
// SQLITE_OPEN_NOMUTEX) and keeps its prepared statements, so a repeated query is bound and
// stepped, never re-parsed. A statement still running at the call's deadline is interrupted.
// Thread-safe.
class SqliteBackend final : public Backend {
 public:
  // Opens the database (one connection, to fail early on a missing file or one that is not a
  // database; the message names the path).
  static absl::StatusOr<std::unique_ptr<SqliteBackend>> Open(const std::string& path,
                                                             const SqliteBackendOptions& options);
  ~SqliteBackend() override;

  absl::Status CheckBinding(const Binding& binding) override;
  absl::StatusOr<std::string> Fetch(const Binding& binding, absl::string_view key,
                                    const std::vector<std::string>& fields,
                                    absl::Time deadline) override;
  absl::StatusOr<SearchPage> Search(const Binding& binding, const std::vector<FieldFilter>& filters,
                                    const std::vector<std::string>& fields, int page_size,
                                    const std::string& page_token, absl::Time deadline) override;

  const std::string& path() const { return path_; }

 private:
  using Pool = ConnectionPool<SqliteConnection>;

  // Defined in the .cc file, where SqliteConnection is complete.
  SqliteBackend(std::string path, const SqliteBackendOptions& options);

  const std::string path_;
  Pool pool_;
};

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_SQLITE_BACKEND_H_
