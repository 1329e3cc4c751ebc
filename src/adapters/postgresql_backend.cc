#include "adapters/postgresql_backend.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <variant>

#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "adapters/field_value.h"
#include "adapters/page_token.h"
#include "common/field_text.h"
#include "common/status_macros.h"

namespace ndx::adapters {
namespace {

using google::protobuf::FieldDescriptor;
using Json = nlohmann::json;

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// What a statement is for ("dataset x: cannot read table y"), for error messages: built only when
// one is, not on every read.
using What = absl::FunctionRef<std::string()>;

// A statement parameter: text, or raw bytes for a bytea column.
struct Param {
  std::string value;
  bool binary = false;
};

// Past this many distinct statements a connection deallocates them and starts over (the SQL
// depends only on the config and on which fields and filters a call names).
constexpr size_t kMaxPreparedStatements = 128;

// How long a cancelled statement may take to end before its connection is given up.
constexpr absl::Duration kCancelGrace = absl::Seconds(1);

// The kind of a column type (pg_type.typname); nullopt for a type no field is read from.
std::optional<PgColumnKind> KindOfType(absl::string_view type) {
  static const auto* kinds = new absl::flat_hash_map<absl::string_view, PgColumnKind>{
      {"int2", PgColumnKind::kInteger},        {"int4", PgColumnKind::kInteger},
      {"int8", PgColumnKind::kInteger},        {"float4", PgColumnKind::kFloat},
      {"float8", PgColumnKind::kFloat},        {"numeric", PgColumnKind::kNumeric},
      {"bool", PgColumnKind::kBool},           {"text", PgColumnKind::kText},
      {"varchar", PgColumnKind::kText},        {"bpchar", PgColumnKind::kText},
      {"name", PgColumnKind::kText},           {"citext", PgColumnKind::kText},
      {"uuid", PgColumnKind::kUuid},           {"date", PgColumnKind::kDate},
      {"timestamp", PgColumnKind::kTimestamp}, {"timestamptz", PgColumnKind::kTimestampTz},
      {"bytea", PgColumnKind::kBytea},
  };
  auto it = kinds->find(type);
  if (it == kinds->end()) return std::nullopt;
  return it->second;
}

bool IsTimestampField(const FieldDescriptor& field) {
  return field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
}

// Whether a field of this type can be read from a column of this kind.
bool CanRead(const FieldDescriptor& field, PgColumnKind kind) {
  using K = PgColumnKind;
  if (IsTimestampField(field)) {
    return kind == K::kTimestampTz || kind == K::kTimestamp || kind == K::kDate ||
           kind == K::kInteger || kind == K::kFloat || kind == K::kNumeric || kind == K::kText;
  }
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return kind == K::kInteger || kind == K::kNumeric;
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return kind == K::kInteger || kind == K::kFloat || kind == K::kNumeric;
    case FieldDescriptor::CPPTYPE_BOOL:
      return kind == K::kBool || kind == K::kInteger;
    case FieldDescriptor::CPPTYPE_ENUM:
      return kind == K::kInteger || kind == K::kText;
    case FieldDescriptor::CPPTYPE_STRING:
      if (field.type() == FieldDescriptor::TYPE_BYTES) return kind == K::kBytea;
      return kind != K::kBytea && kind != K::kBool;
    default:
      return false;
  }
}

constexpr char kRfc3339Utc[] = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";

// The SQL expression that reads `column` (an array element for a repeated field) in the text form
// SetFieldFromSql takes for `field`.
std::string ScalarExpression(const FieldDescriptor& field, const std::string& column,
                             PgColumnKind kind) {
  using K = PgColumnKind;
  if (IsTimestampField(field)) {
    switch (kind) {
      case K::kTimestampTz:
        return absl::StrCat("to_char(", column, " AT TIME ZONE 'UTC', ", kRfc3339Utc, ")");
      case K::kTimestamp:
      case K::kDate:
        return absl::StrCat("to_char(", column, "::timestamp, ", kRfc3339Utc, ")");
      case K::kFloat:
      case K::kNumeric:
        return absl::StrCat("to_char(to_timestamp(", column, ") AT TIME ZONE 'UTC', ", kRfc3339Utc,
                            ")");
      default:
        return column;
    }
  }
  if (kind == K::kBool) return absl::StrCat(column, "::int");
  return column;
}

// The SQL expression that reads `column` for `field`. An array column is read as a JSON array of
// its elements' texts, each read as ScalarExpression reads a column of the element type, in
// order (a multi-dimensional array flattened, row by row); NULL elements stay JSON nulls, and a
// NULL column is the empty array.
std::string SelectExpression(const FieldDescriptor& field, const std::string& column,
                             PgColumnKind kind) {
  if (!field.is_repeated()) return ScalarExpression(field, column, kind);
  // unnest's argument can only be the outer row's column: a function in FROM sees no later item.
  return absl::StrCat("array_to_json(ARRAY(SELECT (", ScalarExpression(field, "e.x", kind),
                      ")::text FROM unnest(", column,
                      ") WITH ORDINALITY AS e(x, n) ORDER BY e.n))");
}

// Appends to `sql` the condition "column equals value", with the value as parameters.
void AppendEquals(const std::string& column, PgColumnKind kind, const FieldValue& value,
                  std::string* sql, std::vector<Param>* params) {
  auto param = [params](std::string text, bool binary = false) {
    params->push_back({std::move(text), binary});
    return absl::StrCat("$", params->size());
  };
  using K = PgColumnKind;
  if (const auto* i = std::get_if<int64_t>(&value)) {
    absl::StrAppend(sql, column, " = ", param(absl::StrCat(*i)));
  } else if (const auto* u = std::get_if<uint64_t>(&value)) {
    absl::StrAppend(sql, column, " = ", param(absl::StrCat(*u)), "::numeric");
  } else if (const auto* d = std::get_if<double>(&value)) {
    absl::StrAppend(sql, column, " = ", param(absl::StrCat(*d)), "::float8");
  } else if (const auto* b = std::get_if<bool>(&value)) {
    absl::StrAppend(sql, column, " = ",
                    param(kind == K::kBool ? (*b ? "true" : "false") : (*b ? "1" : "0")));
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    absl::StrAppend(sql, column, " = ", param(*s));
  } else if (const auto* bytes = std::get_if<BytesValue>(&value)) {
    absl::StrAppend(sql, column, " = ", param(bytes->bytes, /*binary=*/true));
  } else if (const auto* e = std::get_if<EnumValue>(&value)) {
    // Enums are stored as numbers or as names, as the column's type says.
    absl::StrAppend(
        sql, column, " = ",
        param(kind == K::kText && !e->name.empty() ? e->name : absl::StrCat(e->number)));
  } else {
    const absl::Time time = std::get<absl::Time>(value);
    const std::string text = absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", time, absl::UTCTimeZone());
    switch (kind) {
      case K::kTimestampTz:
        absl::StrAppend(sql, column, " = ", param(text), "::timestamptz");
        break;
      case K::kTimestamp:
      case K::kDate:
        absl::StrAppend(sql, column, "::timestamp = (", param(text),
                        "::timestamptz AT TIME ZONE 'UTC')");
        break;
      case K::kText:
        absl::StrAppend(sql, column, " = ", param(text));
        break;
      default:
        absl::StrAppend(sql, column, " = extract(epoch FROM ", param(text), "::timestamptz)");
        break;
    }
  }
}

// The bytes of a bytea column's text output ("\x" and hex digits, bytea_output = hex).
bool DecodeBytea(absl::string_view text, std::string* out) {
  if (!absl::ConsumePrefix(&text, "\\x") || text.size() % 2 != 0) return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  *out = absl::HexStringToBytes(text);
  return true;
}

// The message of an error result: SQLSTATE and what was being done, never PostgreSQL's own text
// (which quotes values: 'invalid input syntax for type uuid: "..."').
absl::Status QueryError(const PGresult* result, absl::string_view what) {
  const char* sqlstate = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string code = sqlstate != nullptr ? sqlstate : "";
  const std::string message = absl::StrCat(what, " (SQLSTATE ", code.empty() ? "none" : code, ")");
  if (code == "57014") {
    return absl::DeadlineExceededError(
        absl::StrCat(message, ": the statement ran past statement_timeout or its deadline"));
  }
  // Connection exceptions; the server shutting down or terminating the session.
  if (absl::StartsWith(code, "08") || absl::StartsWith(code, "57P")) {
    return absl::UnavailableError(message);
  }
  if (absl::StartsWith(code, "53")) return absl::ResourceExhaustedError(message);
  if (absl::StartsWith(code, "22")) {
    return absl::InvalidArgumentError(
        absl::StrCat(message, ": a key or filter value does not fit its column's type"));
  }
  if (code == "42P01" || code == "42703" || code == "42883") {
    return absl::FailedPreconditionError(
        absl::StrCat(message, ": the table changed since the adapter started; restart it"));
  }
  return absl::InternalError(message);
}

}  // namespace

// One session and its prepared statements. Used by one call at a time; not thread-safe.
class PostgresqlConnection {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresqlConnection>> Open(
      const PostgresqlBackendOptions& options) {
    // connect_timeout first, so that one in the connection string (expanded after it) wins:
    // without any, libpq waits for the operating system's TCP timeout, minutes, while the call
    // that grows the pool waits with it.
    const char* const keywords[] = {"connect_timeout", "dbname", nullptr};
    const char* const values[] = {"5", options.connection.c_str(), nullptr};
    PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    std::unique_ptr<PostgresqlConnection> connection(new PostgresqlConnection(conn));
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to PostgreSQL (", Describe(conn), "): ",
                       absl::StripTrailingAsciiWhitespace(conn != nullptr ? PQerrorMessage(conn)
                                                                          : "no memory")));
    }
    const std::string setup = absl::StrCat(
        "SET default_transaction_read_only = on; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; "
        "SET bytea_output = 'hex'; SET application_name = 'ndx-adapter'; SET statement_timeout = ",
        absl::ToInt64Milliseconds(options.statement_timeout));
    Result result(PQexec(conn, setup.c_str()));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return QueryError(result.get(), absl::StrCat("cannot set up a session on ", Describe(conn)));
    }
    return connection;
  }

  ~PostgresqlConnection() { PQfinish(conn_); }

  // "postgresql://host:port/dbname" of a connection.
  static std::string Describe(PGconn* conn) {
    if (conn == nullptr) return "postgresql://?";
    return absl::StrCat("postgresql://", PQhost(conn) != nullptr ? PQhost(conn) : "", ":",
                        PQport(conn) != nullptr ? PQport(conn) : "", "/",
                        PQdb(conn) != nullptr ? PQdb(conn) : "");
  }
  std::string Describe() const { return Describe(conn_); }

  // Runs `sql` (prepared once per connection) with `params`, waiting for its result until
  // `deadline`, when it cancels the statement. A failed call leaves `broken()` set when the
  // connection must not be reused.
  absl::StatusOr<Result> Execute(const std::string& sql, const std::vector<Param>& params,
                                 absl::Time deadline, What what) {
    NDX_ASSIGN_OR_RETURN(std::string name, Prepare(sql, deadline, what));
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    for (const Param& param : params) {
      values.push_back(param.value.data());
      lengths.push_back(static_cast<int>(param.value.size()));
      formats.push_back(param.binary ? 1 : 0);
    }
    if (PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(params.size()), values.data(),
                            lengths.data(), formats.data(), /*resultFormat=*/0) != 1) {
      broken_ = true;
      return absl::UnavailableError(
          absl::StrCat(what(), ": the connection to ", Describe(), " failed"));
    }
    return Await(deadline, PGRES_TUPLES_OK, what);
  }

  bool broken() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }

 private:
  explicit PostgresqlConnection(PGconn* conn) : conn_(conn) {}

  absl::StatusOr<std::string> Prepare(const std::string& sql, absl::Time deadline, What what) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    if (statements_.size() >= kMaxPreparedStatements) {
      Result result(PQexec(conn_, "DEALLOCATE ALL"));
      statements_.clear();
    }
    std::string name = absl::StrCat("ndx_", next_statement_++);
    if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) != 1) {
      broken_ = true;
      return absl::UnavailableError(
          absl::StrCat(what(), ": the connection to ", Describe(), " failed"));
    }
    NDX_RETURN_IF_ERROR(Await(deadline, PGRES_COMMAND_OK, what).status());
    statements_.emplace(sql, name);
    return name;
  }

  // The one result of the statement sent, read without blocking past `deadline`.
  absl::StatusOr<Result> Await(absl::Time deadline, ExecStatusType expected, What what) {
    bool cancelled = false;
    while (true) {
      if (PQconsumeInput(conn_) != 1) {
        broken_ = true;
        return absl::UnavailableError(
            absl::StrCat(what(), ": the connection to ", Describe(), " was lost"));
      }
      if (PQisBusy(conn_) == 0) break;
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration() && !cancelled) {
        Cancel();
        cancelled = true;
        // The server answers a cancel with an error result, which ends the wait below.
        continue;
      }
      if (cancelled && left < -kCancelGrace) {
        // No answer to the cancel: the connection is left mid-statement and closed.
        broken_ = true;
        return absl::DeadlineExceededError(absl::StrCat(
            what(), ": the call's deadline passed and the server did not answer the cancel"));
      }
      pollfd fd{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
      const int timeout_ms =
          cancelled
              ? 100
              : static_cast<int>(std::clamp<int64_t>(
                    absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 1, 1000));
      if (::poll(&fd, 1, timeout_ms) < 0 && errno != EINTR) {
        broken_ = true;
        return absl::UnavailableError(absl::StrCat(what(), ": cannot wait for ", Describe()));
      }
    }
    Result result(PQgetResult(conn_));
    // Drain: a statement ends with a null result, and the connection is reusable only then.
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    if (cancelled) {
      return absl::DeadlineExceededError(
          absl::StrCat(what(), ": the call's deadline passed; the statement was cancelled"));
    }
    if (PQresultStatus(result.get()) != expected) return QueryError(result.get(), what());
    return result;
  }

  void Cancel() {
    PGcancel* cancel = PQgetCancel(conn_);
    char error[256];
    if (cancel == nullptr || PQcancel(cancel, error, sizeof(error)) != 1) broken_ = true;
    PQfreeCancel(cancel);
  }

  PGconn* const conn_;
  absl::flat_hash_map<std::string, std::string> statements_;
  int next_statement_ = 0;
  bool broken_ = false;
};

namespace {

// Gives a connection back to the pool, or closes it when it broke.
absl::Status Finish(ConnectionPool<PostgresqlConnection>::Lease& lease, absl::Status status) {
  if (lease->broken()) lease.Discard();
  return status;
}

// Execute on a pooled connection. A read is idempotent, so when the connection turns out to be
// lost (the server restarted or ended the session while it sat in the pool) it is replaced and
// the read tried once more, instead of failing one call per pooled connection.
absl::StatusOr<Result> Run(ConnectionPool<PostgresqlConnection>& pool, const std::string& sql,
                           const std::vector<Param>& params, absl::Time deadline, What what) {
  for (int attempt = 1;; ++attempt) {
    NDX_ASSIGN_OR_RETURN(ConnectionPool<PostgresqlConnection>::Lease lease, pool.Acquire(deadline));
    absl::StatusOr<Result> result = lease->Execute(sql, params, deadline, what);
    if (result.ok()) return result;
    const bool lost =
        lease->broken() && result.status().code() != absl::StatusCode::kDeadlineExceeded;
    absl::Status status = Finish(lease, result.status());
    if (!lost || attempt == 2) return status;
  }
}

// What one array column's elements point into, kept for as long as BuildRecord reads them.
struct ArrayStorage {
  Json json;
  std::vector<std::string> bytes;
  std::vector<SqlValue> elements;
};

// The elements of an array column of `field`, from SelectExpression's JSON array of texts.
absl::StatusOr<SqlArray> ReadArray(const FieldDescriptor& field, absl::string_view text,
                                   ArrayStorage* storage) {
  try {
    storage->json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    // allow_exceptions is false; this only keeps a third-party exception from escaping.
    storage->json = Json(Json::value_t::discarded);
  }
  if (!storage->json.is_array()) {
    return absl::InternalError("the column's array did not read back as a JSON array of texts");
  }
  const bool bytea = field.type() == FieldDescriptor::TYPE_BYTES;
  storage->elements.clear();
  // Sized before any element points into it, so that no view moves.
  if (bytea && storage->bytes.size() < storage->json.size()) {
    storage->bytes.resize(storage->json.size());
  }
  for (size_t i = 0; i < storage->json.size(); ++i) {
    const Json& element = storage->json[i];
    if (element.is_null()) {
      return absl::InternalError(
          absl::StrCat("the column holds an array with a NULL element, which repeated field \"",
                       field.name(), "\" cannot hold"));
    }
    if (!element.is_string()) {
      return absl::InternalError("the column's array did not read back as a JSON array of texts");
    }
    const std::string& element_text = element.get_ref<const std::string&>();
    if (!bytea) {
      storage->elements.push_back(SqlText{element_text});
    } else if (DecodeBytea(element_text, &storage->bytes[i])) {
      storage->elements.push_back(SqlBlob{storage->bytes[i]});
    } else {
      return absl::InternalError("the column's bytea text is not in hex output form");
    }
  }
  return SqlArray{storage->elements};
}

// The message of one row: `selected[i]` is read from result column `first_column + i`.
absl::StatusOr<std::string> RowRecord(const Binding& binding,
                                      const std::vector<const FieldBinding*>& selected,
                                      const PGresult* result, int row, int first_column) {
  std::string bytes;
  ArrayStorage array;
  return BuildRecord(binding, selected, [&](size_t i) -> absl::StatusOr<std::optional<SqlValue>> {
    const int column = first_column + static_cast<int>(i);
    if (PQgetisnull(result, row, column)) return std::nullopt;
    const absl::string_view text(PQgetvalue(result, row, column),
                                 static_cast<size_t>(PQgetlength(result, row, column)));
    const FieldDescriptor& field = *selected[i]->field;
    if (field.is_repeated()) {
      NDX_ASSIGN_OR_RETURN(SqlArray elements, ReadArray(field, text, &array));
      return elements;
    }
    if (field.type() != FieldDescriptor::TYPE_BYTES) return SqlText{text};
    if (!DecodeBytea(text, &bytes)) {
      return absl::InternalError("the column's bytea text is not in hex output form");
    }
    return SqlBlob{bytes};
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresqlBackend>> PostgresqlBackend::Open(
    const PostgresqlBackendOptions& options) {
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError(absl::StrCat("postgresql max_connections is ",
                                                   options.max_connections, "; give 1 or more"));
  }
  NDX_ASSIGN_OR_RETURN(std::unique_ptr<PostgresqlConnection> connection,
                       PostgresqlConnection::Open(options));
  std::unique_ptr<PostgresqlBackend> backend(
      new PostgresqlBackend(connection->Describe(), options));
  backend->pool_.Add(std::move(connection));
  return backend;
}

PostgresqlBackend::PostgresqlBackend(std::string name, const PostgresqlBackendOptions& options)
    : name_(std::move(name)), pool_(name_, options.max_connections, options.wait, [options] {
        return PostgresqlConnection::Open(options);
      }) {}

PostgresqlBackend::~PostgresqlBackend() = default;

absl::Status PostgresqlBackend::CheckBinding(const Binding& binding) {
  NDX_ASSIGN_OR_RETURN(Pool::Lease lease, pool_.Acquire(absl::InfiniteFuture()));
  const std::string what =
      absl::StrCat("dataset ", binding.dataset, ": cannot read the columns of \"", binding.table,
                   "\" in ", name_);
  // For an array column, also its element type (NULL for any other column).
  absl::StatusOr<Result> columns = lease->Execute(
      "SELECT a.attname, t.typname, format_type(a.atttypid, a.atttypmod), t.typcategory = 'A', "
      "e.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type e ON "
      "t.typcategory = 'A' AND e.oid = t.typelem WHERE a.attrelid = to_regclass($1) AND "
      "a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
      {{QuoteIdentifier(binding.table)}}, absl::InfiniteFuture(), [&] { return what; });
  if (!columns.ok()) return Finish(lease, columns.status());
  const PGresult* result = columns->get();
  if (PQntuples(result) == 0) {
    absl::StatusOr<Result> tables = lease->Execute(
        "SELECT c.relname FROM pg_class c WHERE c.relnamespace = ANY (current_schemas(false)::"
        "regnamespace[]) AND c.relkind IN ('r', 'v', 'm', 'p') ORDER BY c.relname",
        {}, absl::InfiniteFuture(), [&] { return what; });
    std::vector<std::string> names;
    if (tables.ok()) {
      for (int row = 0; row < PQntuples(tables->get()); ++row) {
        names.emplace_back(PQgetvalue(tables->get(), row, 0));
      }
    }
    return Finish(
        lease, absl::InvalidArgumentError(absl::StrCat(
                   "dataset ", binding.dataset, ": table \"", binding.table,
                   "\" does not exist in ", name_,
                   names.empty()
                       ? " (the search path has no tables or views)"
                       : absl::StrCat(" (tables and views: ", absl::StrJoin(names, ", "), ")"))));
  }
  struct Column {
    std::string type;
    std::string declared;
    bool array = false;
    // An array's element type; empty when the catalog gives none.
    std::string element;
  };
  absl::flat_hash_map<std::string, Column> by_name;
  std::vector<std::string> names;
  for (int row = 0; row < PQntuples(result); ++row) {
    by_name[PQgetvalue(result, row, 0)] = {
        .type = PQgetvalue(result, row, 1),
        .declared = PQgetvalue(result, row, 2),
        .array = absl::string_view(PQgetvalue(result, row, 3)) == "t",
        .element = PQgetvalue(result, row, 4)};
    names.emplace_back(PQgetvalue(result, row, 0));
  }
  auto kinds = std::make_shared<ColumnKinds>();
  std::vector<std::string> missing;
  for (const FieldBinding& field : binding.fields) {
    auto it = by_name.find(field.column);
    if (it == by_name.end()) {
      missing.push_back(
          absl::StrCat("field \"", field.field->name(), "\" -> column \"", field.column, "\""));
      continue;
    }
    const Column& column = it->second;
    const bool repeated = field.field->is_repeated();
    auto unreadable = [&](absl::string_view remedy) {
      return Finish(
          lease, absl::InvalidArgumentError(absl::StrCat(
                     "dataset ", binding.dataset, ": column \"", field.column, "\" of table \"",
                     binding.table, "\" in ", name_, " is of type ", column.declared,
                     ", which field \"", field.field->name(), "\" (", repeated ? "repeated " : "",
                     ExpectedType(*field.field), ") cannot be read from; ", remedy)));
    };
    if (repeated && !column.array) {
      return unreadable(
          "a repeated field reads from an array column: make the field singular or map it to an "
          "array column");
    }
    if (!repeated && column.array) {
      return unreadable(
          "an array column is read into a repeated field: make the field repeated or map it to "
          "another column");
    }
    std::optional<PgColumnKind> kind = KindOfType(column.array ? column.element : column.type);
    if (!kind.has_value() || !CanRead(*field.field, *kind)) {
      return unreadable("change the field's type or map it to another column");
    }
    (*kinds)[field.field->number()] = *kind;
  }
  if (!missing.empty()) {
    return Finish(lease, absl::InvalidArgumentError(absl::StrCat(
                             "dataset ", binding.dataset, ": table \"", binding.table, "\" in ",
                             name_, " has no column for ", absl::StrJoin(missing, ", "),
                             " (its columns: ", absl::StrJoin(names, ", "),
                             "); add the column or map the field with columns { key: \"<field>\" "
                             "value: \"<column>\" }")));
  }
  absl::MutexLock lock(&mutex_);
  kinds_[binding.dataset] = std::move(kinds);
  return Finish(lease, absl::OkStatus());
}

absl::StatusOr<std::shared_ptr<const PostgresqlBackend::ColumnKinds>> PostgresqlBackend::KindsOf(
    const Binding& binding) const {
  absl::ReaderMutexLock lock(&mutex_);
  auto it = kinds_.find(binding.dataset);
  if (it == kinds_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", binding.dataset, " was not checked against ", name_));
  }
  return it->second;
}

namespace {

std::string SelectList(const std::vector<const FieldBinding*>& selected,
                       const absl::flat_hash_map<int, PgColumnKind>& kinds) {
  return absl::StrJoin(selected, ", ", [&](std::string* out, const FieldBinding* binding) {
    absl::StrAppend(out, SelectExpression(*binding->field, QuoteIdentifier(binding->column),
                                          kinds.at(binding->field->number())));
  });
}

}  // namespace

absl::StatusOr<std::string> PostgresqlBackend::Fetch(const Binding& binding, absl::string_view key,
                                                     const std::vector<std::string>& fields,
                                                     absl::Time deadline) {
  NDX_ASSIGN_OR_RETURN(std::shared_ptr<const ColumnKinds> kinds, KindsOf(binding));
  NDX_ASSIGN_OR_RETURN(std::vector<const FieldBinding*> selected, binding.SelectFields(fields));
  const FieldBinding& key_field = binding.key();
  NDX_ASSIGN_OR_RETURN(FieldValue key_value, ParseKey(binding, key));
  std::vector<Param> params;
  std::string where;
  AppendEquals(QuoteIdentifier(key_field.column), kinds->at(key_field.field->number()), key_value,
               &where, &params);
  // Two rows at most: one is the answer, a second one means the key column is not unique.
  const std::string sql =
      absl::StrCat("SELECT ", SelectList(selected, *kinds), " FROM ",
                   QuoteIdentifier(binding.table), " WHERE ", where, " LIMIT 2");
  auto what = [&binding] {
    return absl::StrCat("dataset ", binding.dataset, ": cannot read table \"", binding.table, "\"");
  };

  NDX_ASSIGN_OR_RETURN(Result result, Run(pool_, sql, params, deadline, what));
  const int rows = PQntuples(result.get());
  if (rows == 0) {
    // The key is a citizen's identifier: the message names its field, never its value.
    return absl::NotFoundError(absl::StrCat("dataset ", binding.dataset,
                                            " has no record with this ", key_field.field->name()));
  }
  if (rows > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", binding.dataset, ": table \"", binding.table,
                     "\" has several rows with the requested key in column \"", key_field.column,
                     "\"; the key column must be unique"));
  }
  return RowRecord(binding, selected, result.get(), 0, 0);
}

absl::StatusOr<SearchPage> PostgresqlBackend::Search(const Binding& binding,
                                                     const std::vector<FieldFilter>& filters,
                                                     const std::vector<std::string>& fields,
                                                     int page_size, const std::string& page_token,
                                                     absl::Time deadline) {
  NDX_ASSIGN_OR_RETURN(std::shared_ptr<const ColumnKinds> kinds, KindsOf(binding));
  NDX_ASSIGN_OR_RETURN(const size_t limit, PageRows(page_size));
  NDX_ASSIGN_OR_RETURN(std::vector<const FieldBinding*> selected, binding.SelectFields(fields));
  const FieldBinding& key_field = binding.key();
  const PgColumnKind key_kind = kinds->at(key_field.field->number());
  const std::string key_column = QuoteIdentifier(key_field.column);
  std::vector<Param> params;
  std::string where = absl::StrCat(key_column, " IS NOT NULL");
  for (const FieldFilter& filter : filters) {
    NDX_ASSIGN_OR_RETURN(ParsedFilter parsed, ParseFilter(binding, filter));
    absl::StrAppend(&where, " AND ");
    AppendEquals(QuoteIdentifier(parsed.field->column), kinds->at(parsed.field->field->number()),
                 parsed.value, &where, &params);
  }
  if (!page_token.empty()) {
    NDX_ASSIGN_OR_RETURN(std::string position, DecodePageToken(binding, filters, page_token));
    params.push_back({std::move(position), key_kind == PgColumnKind::kBytea});
    absl::StrAppend(&where, " AND ", key_column, " > $", params.size());
  }
  // One row past the page tells whether there is a next page, so the last page has no token.
  params.push_back({absl::StrCat(limit + 1)});
  const std::string sql = absl::StrCat("SELECT ", key_column, ", ", SelectList(selected, *kinds),
                                       " FROM ", QuoteIdentifier(binding.table), " WHERE ", where,
                                       " ORDER BY ", key_column, " LIMIT $", params.size());
  auto what = [&binding] {
    return absl::StrCat("dataset ", binding.dataset, ": cannot read table \"", binding.table, "\"");
  };

  NDX_ASSIGN_OR_RETURN(Result result, Run(pool_, sql, params, deadline, what));
  SearchPage page;
  const int rows = PQntuples(result.get());
  for (int row = 0; row < rows; ++row) {
    if (page.records.size() == limit) {
      // The key as stored: text, or for bytea the raw bytes, bound back as they came.
      const absl::string_view last(PQgetvalue(result.get(), row - 1, 0),
                                   static_cast<size_t>(PQgetlength(result.get(), row - 1, 0)));
      std::string position(last);
      if (key_kind == PgColumnKind::kBytea && !DecodeBytea(last, &position)) {
        return absl::InternalError(
            absl::StrCat("dataset ", binding.dataset, ": the key column's bytea text is not hex"));
      }
      page.next_page_token = EncodePageToken(binding, filters, position);
      break;
    }
    NDX_ASSIGN_OR_RETURN(std::string record, RowRecord(binding, selected, result.get(), row, 1));
    page.records.push_back(std::move(record));
  }
  return page;
}

}  // namespace ndx::adapters
