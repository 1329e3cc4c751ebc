#ifndef NDX_ADAPTERS_POSTGRESQL_BACKEND_H_
#define NDX_ADAPTERS_POSTGRESQL_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/backend.h"
#include "adapters/connection_pool.h"

namespace ndx::adapters {

class PostgresqlConnection;

struct PostgresqlBackendOptions {
  // libpq's connection string, key=value or a postgresql:// URI: host, port, dbname, user, and
  // for TLS sslmode (verify-full, verify-ca), sslrootcert, sslcert, sslkey. A password belongs in
  // a passfile (passfile=, or ~/.pgpass), not in the adapter's configuration.
  std::string connection;
  // Connections opened at most; a call waits for a free one up to `wait`.
  int max_connections = 8;
  absl::Duration wait = absl::Seconds(2);
  // The server-side limit of any one statement (statement_timeout): the backstop if the call's
  // deadline cannot be acted on, e.g. while the adapter is blocked in the network.
  absl::Duration statement_timeout = absl::Seconds(5);
};

// How a column's value (an array column's elements) is read into its field, and compared with a
// key or filter.
enum class PgColumnKind {
  kInteger,      // smallint, integer, bigint
  kFloat,        // real, double precision
  kNumeric,      // numeric
  kBool,         // boolean
  kText,         // text, varchar, char, name, citext
  kUuid,         // uuid
  kDate,         // date
  kTimestamp,    // timestamp (without time zone), taken as UTC
  kTimestampTz,  // timestamp with time zone
  kBytea,        // bytea
};

// A Backend over one PostgreSQL database. Sessions are read-only (default_transaction_read_only),
// in UTC with ISO dates; values reach SQL only as bound parameters of prepared statements, and
// identifiers, checked at load, are double-quoted. At load the table's columns and their types
// are read from the catalog: a missing column, or one whose type cannot be read into its field
// (json for an int32, an array for a singular field, a scalar for a repeated one), stops the
// adapter with a message naming the column and its type.
// A repeated field reads from an array column whose element type its element type can be read
// from (int4[] for repeated int32): elements in order, a multi-dimensional array flattened row by
// row ({{1,2},{3,4}} reads 1, 2, 3, 4), a NULL array as no elements. A NULL element has no place
// in a repeated field: the read fails (kInternal naming the column, never the values).
// A call runs its statement asynchronously and cancels it at the call's deadline; the
// statement_timeout backs that up on the server. Errors name SQLSTATE codes, datasets, tables
// and columns, never PostgreSQL's own message text for a query, which can quote a value.
// Connections: a ConnectionPool; a connection that broke or was left mid-statement is closed.
// Thread-safe.
class PostgresqlBackend final : public Backend {
 public:
  // Connects once (to fail early on a wrong address, database or credentials; the message says
  // which server and what libpq reported).
  static absl::StatusOr<std::unique_ptr<PostgresqlBackend>> Open(
      const PostgresqlBackendOptions& options);
  ~PostgresqlBackend() override;

  absl::Status CheckBinding(const Binding& binding) override;
  absl::StatusOr<std::string> Fetch(const Binding& binding, absl::string_view key,
                                    const std::vector<std::string>& fields,
                                    absl::Time deadline) override;
  absl::StatusOr<SearchPage> Search(const Binding& binding, const std::vector<FieldFilter>& filters,
                                    const std::vector<std::string>& fields, int page_size,
                                    const std::string& page_token, absl::Time deadline) override;

  // "postgresql://host:port/dbname", for messages; never the password.
  const std::string& name() const { return name_; }

 private:
  using Pool = ConnectionPool<PostgresqlConnection>;
  // The column kinds of a checked binding, by field number.
  using ColumnKinds = absl::flat_hash_map<int, PgColumnKind>;

  PostgresqlBackend(std::string name, const PostgresqlBackendOptions& options);

  // The kinds CheckBinding found for `binding`'s dataset; kFailedPrecondition if it was not
  // checked.
  absl::StatusOr<std::shared_ptr<const ColumnKinds>> KindsOf(const Binding& binding) const;

  const std::string name_;
  Pool pool_;
  mutable absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<const ColumnKinds>> kinds_
      ABSL_GUARDED_BY(mutex_);
};

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_POSTGRESQL_BACKEND_H_
