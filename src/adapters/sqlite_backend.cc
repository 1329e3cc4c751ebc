#include "adapters/sqlite_backend.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/field_value.h"
#include "adapters/page_token.h"
#include "common/field_text.h"
#include "common/status_macros.h"

namespace ndx::adapters {
namespace {

// A value bound to a statement parameter: the only way a caller's text reaches SQLite.
struct Blob {
  std::string bytes;
};
using SqlParam = std::variant<int64_t, double, std::string, Blob>;

// Past this many distinct queries a connection drops its prepared statements and starts over;
// the SQL text depends only on the config and on which fields and filters a call names, so the
// working set is small and this only bounds a pathological mix.
constexpr size_t kMaxCachedStatements = 128;

absl::Status SqliteError(int rc, sqlite3* db, absl::string_view what) {
  std::string message =
      absl::StrCat(what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(
          absl::StrCat(message, " (a writer holds the database lock; retry later)"));
    case SQLITE_NOMEM:
      return absl::ResourceExhaustedError(message);
    case SQLITE_INTERRUPT:
      return absl::DeadlineExceededError(
          absl::StrCat(what, ": the call's deadline passed; the query was interrupted"));
    case SQLITE_CANTOPEN:
      return absl::NotFoundError(message);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

void AppendColumnList(const std::vector<const FieldBinding*>& selected, std::string* sql) {
  for (size_t i = 0; i < selected.size(); ++i) {
    absl::StrAppend(sql, i == 0 ? "" : ", ", QuoteIdentifier(selected[i]->column));
  }
}

std::string ColumnList(const std::vector<const FieldBinding*>& selected) {
  std::string list;
  AppendColumnList(selected, &list);
  return list;
}

// Appends "<column> = ?N" (or an equivalent expression) to `sql` and the values to `params`.
void AppendEquals(const std::string& column, const FieldValue& value, std::string* sql,
                  std::vector<SqlParam>* params) {
  auto param = [params](SqlParam p) {
    params->push_back(std::move(p));
    return absl::StrCat("?", params->size());
  };
  if (const auto* i = std::get_if<int64_t>(&value)) {
    absl::StrAppend(sql, column, " = ", param(*i));
  } else if (const auto* u = std::get_if<uint64_t>(&value)) {
    // SQLite integers are signed; larger values can only be stored, and matched, as text.
    if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      absl::StrAppend(sql, column, " = ", param(static_cast<int64_t>(*u)));
    } else {
      absl::StrAppend(sql, column, " = ", param(absl::StrCat(*u)));
    }
  } else if (const auto* d = std::get_if<double>(&value)) {
    absl::StrAppend(sql, column, " = ", param(*d));
  } else if (const auto* b = std::get_if<bool>(&value)) {
    absl::StrAppend(sql, column, " = ", param(int64_t{*b ? 1 : 0}));
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    absl::StrAppend(sql, column, " = ", param(*s));
  } else if (const auto* bytes = std::get_if<BytesValue>(&value)) {
    absl::StrAppend(sql, column, " = ", param(Blob{bytes->bytes}));
  } else if (const auto* e = std::get_if<EnumValue>(&value)) {
    // Enums may be stored as numbers or as names.
    std::string number = param(int64_t{e->number});
    if (e->name.empty()) {
      absl::StrAppend(sql, column, " = ", number);
    } else {
      absl::StrAppend(sql, "(", column, " = ", number, " OR ", column, " = ", param(e->name), ")");
    }
  } else {
    // A Timestamp stored as seconds matches numerically; stored as text, both sides are brought
    // to one UTC spelling, so "2024-01-02T10:00:00+07:00" matches "2024-01-02 03:00:00" (at
    // SQLite's millisecond precision).
    absl::Time time = std::get<absl::Time>(value);
    int64_t seconds = absl::ToUnixSeconds(time);
    SqlParam numeric = time == absl::FromUnixSeconds(seconds)
                           ? SqlParam(seconds)
                           : SqlParam(absl::ToDoubleSeconds(time - absl::UnixEpoch()));
    std::string text = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
    absl::StrAppend(sql, "(CASE WHEN typeof(", column, ") IN ('integer', 'real') THEN ", column,
                    " = ", param(std::move(numeric)), " ELSE strftime('%Y-%m-%dT%H:%M:%fZ', ",
                    column, ") = ", param(std::move(text)), " END)");
  }
}

// Binds `params` to ?1, ?2... Text and blobs are bound in place, not copied (SQLITE_STATIC).
// REQUIRES: `params` outlives the statement's use, up to its ResetOnExit, which clears them.
absl::Status BindAll(sqlite3* db, sqlite3_stmt* stmt, const std::vector<SqlParam>& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i + 1);
    const SqlParam& p = params[i];
    int rc;
    if (const auto* n = std::get_if<int64_t>(&p)) {
      rc = sqlite3_bind_int64(stmt, index, *n);
    } else if (const auto* d = std::get_if<double>(&p)) {
      rc = sqlite3_bind_double(stmt, index, *d);
    } else if (const auto* s = std::get_if<std::string>(&p)) {
      rc = sqlite3_bind_text64(stmt, index, s->data(), s->size(), SQLITE_STATIC, SQLITE_UTF8);
    } else {
      // data() of a std::string is never null, so an empty value binds as an empty blob, not NULL.
      const std::string& bytes = std::get<Blob>(p).bytes;
      rc = sqlite3_bind_blob64(stmt, index, bytes.data(), bytes.size(), SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) return SqliteError(rc, db, "cannot bind a query parameter");
  }
  return absl::OkStatus();
}

SqlValue ColumnValue(sqlite3_stmt* stmt, int column) {
  switch (sqlite3_column_type(stmt, column)) {
    case SQLITE_INTEGER:
      return sqlite3_column_int64(stmt, column);
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, column);
    case SQLITE_TEXT: {
      // Pointer first, then size: the order SQLite documents as safe.
      const char* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
      int size = sqlite3_column_bytes(stmt, column);
      return SqlText{absl::string_view(text != nullptr ? text : "", static_cast<size_t>(size))};
    }
    default: {
      const char* data = static_cast<const char*>(sqlite3_column_blob(stmt, column));
      int size = sqlite3_column_bytes(stmt, column);
      return SqlBlob{absl::string_view(data != nullptr ? data : "", static_cast<size_t>(size))};
    }
  }
}

std::string BigEndian(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

uint64_t FromBigEndian(absl::string_view bytes) {
  uint64_t value = 0;
  for (unsigned char c : bytes) value = (value << 8) | c;
  return value;
}

// The key of the current row exactly as stored (storage class and value), so that the next page
// resumes with "key > ?" under the same comparison rules as ORDER BY, whatever the column's
// declared type.
std::string EncodePosition(sqlite3_stmt* stmt, int column) {
  SqlValue value = ColumnValue(stmt, column);
  if (const auto* i = std::get_if<int64_t>(&value)) {
    return absl::StrCat("i", BigEndian(static_cast<uint64_t>(*i)));
  }
  if (const auto* d = std::get_if<double>(&value)) {
    uint64_t bits;
    std::memcpy(&bits, d, sizeof(bits));
    return absl::StrCat("r", BigEndian(bits));
  }
  if (const auto* t = std::get_if<SqlText>(&value)) return absl::StrCat("t", t->text);
  return absl::StrCat("b", std::get<SqlBlob>(value).bytes);
}

absl::StatusOr<SqlParam> DecodePosition(absl::string_view position) {
  if (!position.empty()) {
    absl::string_view rest = position.substr(1);
    switch (position[0]) {
      case 'i':
        if (rest.size() == 8) return SqlParam(static_cast<int64_t>(FromBigEndian(rest)));
        break;
      case 'r':
        if (rest.size() == 8) {
          uint64_t bits = FromBigEndian(rest);
          double d;
          std::memcpy(&d, &bits, sizeof(d));
          return SqlParam(d);
        }
        break;
      case 't':
        return SqlParam(std::string(rest));
      case 'b':
        return SqlParam(Blob{std::string(rest)});
      default:
        break;
    }
  }
  return absl::InvalidArgumentError(
      "page_token is not valid (unknown key encoding): pass back the next_page_token of the "
      "previous page unchanged");
}

// Resets a statement and drops its bindings when the call is done with it, so that the cached
// statement holds no caller's value and no read transaction stays open.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ResetOnExit() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* const stmt_;
};

}  // namespace

// One read-only connection and its prepared statements. Used by one thread at a time (the pool
// hands it out to one call); not thread-safe.
class SqliteConnection {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(const std::string& path,
                                                                absl::Duration busy_timeout) {
    sqlite3* db = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    // Owns `db` from here, even when opening failed (SQLite may still allocate a handle).
    std::unique_ptr<SqliteConnection> connection(new SqliteConnection(db));
    if (rc != SQLITE_OK) {
      return SqliteError(rc, db, absl::StrCat("cannot open SQLite database ", path, " read-only"));
    }
    sqlite3_busy_timeout(db, static_cast<int>(absl::ToInt64Milliseconds(busy_timeout)));
    rc = sqlite3_exec(db, "PRAGMA query_only = ON", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(rc, db, absl::StrCat("cannot set query_only on ", path));
    }
    return connection;
  }

  ~SqliteConnection() {
    FinalizeAll();
    sqlite3_close_v2(db_);
  }

  sqlite3* db() const { return db_; }

  // Room for the SQL text of a call, emptied: kept from call to call, so that writing the text
  // allocates nothing once it has grown.
  std::string& EmptySqlText() {
    sql_text_.clear();
    return sql_text_;
  }

  // Interrupts any statement of this connection still running at `deadline` (SQLITE_INTERRUPT):
  // SQLite calls the handler every kProgressSteps virtual machine steps, a few microseconds.
  void SetDeadline(absl::Time deadline) {
    deadline_ = deadline;
    if (deadline == absl::InfiniteFuture()) {
      sqlite3_progress_handler(db_, 0, nullptr, nullptr);
      return;
    }
    sqlite3_progress_handler(
        db_, kProgressSteps,
        [](void* deadline) { return absl::Now() >= *static_cast<absl::Time*>(deadline) ? 1 : 0; },
        &deadline_);
  }

  // The prepared statement for `sql`, owned by this connection and reused by later calls.
  absl::StatusOr<sqlite3_stmt*> Prepare(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    if (statements_.size() >= kMaxCachedStatements) FinalizeAll();
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return SqliteError(rc, db_, absl::StrCat("cannot prepare ", sql));
    }
    statements_.emplace(sql, stmt);
    return stmt;
  }

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  void FinalizeAll() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    statements_.clear();
  }

  static constexpr int kProgressSteps = 1000;

  sqlite3* const db_;
  absl::flat_hash_map<std::string, sqlite3_stmt*> statements_;
  std::string sql_text_;
  absl::Time deadline_ = absl::InfiniteFuture();
};

namespace {

// The deadline of one call on a connection, lifted when the call is done with it.
class DeadlineScope {
 public:
  DeadlineScope(SqliteConnection* connection, absl::Time deadline) : connection_(connection) {
    connection_->SetDeadline(deadline);
  }
  ~DeadlineScope() { connection_->SetDeadline(absl::InfiniteFuture()); }
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

 private:
  SqliteConnection* const connection_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteBackend>> SqliteBackend::Open(
    const std::string& path, const SqliteBackendOptions& options) {
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError(absl::StrCat("SqliteBackendOptions.max_connections is ",
                                                   options.max_connections, "; give 1 or more"));
  }
  NDX_ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> connection,
                       SqliteConnection::Open(path, options.busy_timeout));
  // Opening is lazy in SQLite; reading the schema is what finds a file that is not a database.
  int rc = sqlite3_exec(connection->db(), "SELECT count(*) FROM sqlite_schema", nullptr, nullptr,
                        nullptr);
  if (rc != SQLITE_OK) {
    return SqliteError(rc, connection->db(), absl::StrCat("cannot read SQLite database ", path));
  }
  std::unique_ptr<SqliteBackend> backend(new SqliteBackend(path, options));
  backend->pool_.Add(std::move(connection));
  return backend;
}

SqliteBackend::SqliteBackend(std::string path, const SqliteBackendOptions& options)
    : path_(std::move(path)),
      pool_(path_, options.max_connections, options.busy_timeout,
            [path = path_, busy_timeout = options.busy_timeout] {
              return SqliteConnection::Open(path, busy_timeout);
            }) {}

SqliteBackend::~SqliteBackend() = default;

absl::Status SqliteBackend::CheckBinding(const Binding& binding) {
  for (const FieldBinding& field : binding.fields) {
    if (field.field->is_repeated()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dataset ", binding.dataset, ": field \"", field.field->name(),
          "\" is repeated, and SQLite has no array columns; serve this dataset with the "
          "postgresql backend (array columns) or the rest backend (JSON arrays)"));
    }
  }
  NDX_ASSIGN_OR_RETURN(Pool::Lease lease, pool_.Acquire(absl::InfiniteFuture()));
  std::vector<std::string> columns;
  {
    const std::vector<SqlParam> params = {SqlParam(binding.table)};
    NDX_ASSIGN_OR_RETURN(sqlite3_stmt * stmt,
                         lease->Prepare("SELECT name FROM pragma_table_info(?1)"));
    ResetOnExit reset(stmt);
    NDX_RETURN_IF_ERROR(BindAll(lease->db(), stmt, params));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      columns.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    }
    if (rc != SQLITE_DONE) {
      return SqliteError(
          rc, lease->db(),
          absl::StrCat("cannot read the columns of \"", binding.table, "\" in ", path_));
    }
  }
  if (columns.empty()) {
    std::vector<std::string> tables;
    NDX_ASSIGN_OR_RETURN(sqlite3_stmt * stmt,
                         lease->Prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', "
                                        "'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                                        "ORDER BY name"));
    ResetOnExit reset(stmt);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset ", binding.dataset, ": table \"", binding.table, "\" does not exist in ", path_,
        tables.empty() ? " (the database has no tables or views)"
                       : absl::StrCat(" (tables and views: ", absl::StrJoin(tables, ", "), ")")));
  }
  std::vector<std::string> missing;
  for (const FieldBinding& field : binding.fields) {
    bool found = std::any_of(columns.begin(), columns.end(), [&](const std::string& column) {
      // SQLite resolves identifiers case-insensitively, so the check does too.
      return absl::EqualsIgnoreCase(column, field.column);
    });
    if (!found) {
      missing.push_back(
          absl::StrCat("field \"", field.field->name(), "\" -> column \"", field.column, "\""));
    }
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset ", binding.dataset, ": table \"", binding.table, "\" in ", path_,
                     " has no column for ", absl::StrJoin(missing, ", "),
                     " (its columns: ", absl::StrJoin(columns, ", "),
                     "); add the column or map the field with columns { key: \"<field>\" value: "
                     "\"<column>\" }"));
  }
  return absl::OkStatus();
}

namespace {

// The message of one row: `selected[i]` is read from result column `first_column + i`.
absl::StatusOr<std::string> RowRecord(const Binding& binding,
                                      const std::vector<const FieldBinding*>& selected,
                                      sqlite3_stmt* stmt, int first_column) {
  return BuildRecord(binding, selected, [&](size_t i) -> absl::StatusOr<std::optional<SqlValue>> {
    const int column = first_column + static_cast<int>(i);
    if (sqlite3_column_type(stmt, column) == SQLITE_NULL) return std::nullopt;
    return ColumnValue(stmt, column);
  });
}

}  // namespace

absl::StatusOr<std::string> SqliteBackend::Fetch(const Binding& binding, absl::string_view key,
                                                 const std::vector<std::string>& fields,
                                                 absl::Time deadline) {
  NDX_ASSIGN_OR_RETURN(std::vector<const FieldBinding*> selected, binding.SelectFields(fields));
  const FieldBinding& key_field = binding.key();
  NDX_ASSIGN_OR_RETURN(FieldValue key_value, ParseKey(binding, key));

  NDX_ASSIGN_OR_RETURN(Pool::Lease lease, pool_.Acquire(deadline));
  std::vector<SqlParam> params;
  std::string& sql = lease->EmptySqlText();
  sql.append("SELECT ");
  AppendColumnList(selected, &sql);
  absl::StrAppend(&sql, " FROM ", QuoteIdentifier(binding.table), " WHERE ");
  AppendEquals(QuoteIdentifier(key_field.column), key_value, &sql, &params);
  // Two rows at most: one is the answer, a second one means the key column is not unique.
  sql.append(" LIMIT 2");
  NDX_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, lease->Prepare(sql));
  ResetOnExit reset(stmt);
  DeadlineScope deadline_scope(&*lease, deadline);
  NDX_RETURN_IF_ERROR(BindAll(lease->db(), stmt, params));
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) {
    // The key is a citizen's identifier: the message names its field, never its value.
    return absl::NotFoundError(absl::StrCat("dataset ", binding.dataset,
                                            " has no record with this ", key_field.field->name()));
  }
  if (rc != SQLITE_ROW) {
    return SqliteError(
        rc, lease->db(),
        absl::StrCat("dataset ", binding.dataset, ": cannot read table \"", binding.table, "\""));
  }
  NDX_ASSIGN_OR_RETURN(std::string record, RowRecord(binding, selected, stmt, 0));
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", binding.dataset, ": table \"", binding.table,
                     "\" has several rows with the requested key in column \"", key_field.column,
                     "\"; the key column must be unique"));
  }
  if (rc != SQLITE_DONE) {
    return SqliteError(
        rc, lease->db(),
        absl::StrCat("dataset ", binding.dataset, ": cannot read table \"", binding.table, "\""));
  }
  return record;
}

absl::StatusOr<SearchPage> SqliteBackend::Search(const Binding& binding,
                                                 const std::vector<FieldFilter>& filters,
                                                 const std::vector<std::string>& fields,
                                                 int page_size, const std::string& page_token,
                                                 absl::Time deadline) {
  NDX_ASSIGN_OR_RETURN(const size_t limit, PageRows(page_size));
  NDX_ASSIGN_OR_RETURN(std::vector<const FieldBinding*> selected, binding.SelectFields(fields));

  const std::string key_column = QuoteIdentifier(binding.key().column);
  std::vector<SqlParam> params;
  std::string where = absl::StrCat(key_column, " IS NOT NULL");
  for (const FieldFilter& filter : filters) {
    NDX_ASSIGN_OR_RETURN(ParsedFilter parsed, ParseFilter(binding, filter));
    absl::StrAppend(&where, " AND ");
    AppendEquals(QuoteIdentifier(parsed.field->column), parsed.value, &where, &params);
  }
  if (!page_token.empty()) {
    NDX_ASSIGN_OR_RETURN(std::string position, DecodePageToken(binding, filters, page_token));
    NDX_ASSIGN_OR_RETURN(SqlParam after, DecodePosition(position));
    params.push_back(std::move(after));
    absl::StrAppend(&where, " AND ", key_column, " > ?", params.size());
  }
  // One row past the page tells whether there is a next page, so the last page has no token.
  params.push_back(static_cast<int64_t>(limit + 1));
  std::string sql = absl::StrCat("SELECT ", key_column, ", ", ColumnList(selected), " FROM ",
                                 QuoteIdentifier(binding.table), " WHERE ", where, " ORDER BY ",
                                 key_column, " LIMIT ?", params.size());

  NDX_ASSIGN_OR_RETURN(Pool::Lease lease, pool_.Acquire(deadline));
  NDX_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, lease->Prepare(sql));
  ResetOnExit reset(stmt);
  DeadlineScope deadline_scope(&*lease, deadline);
  NDX_RETURN_IF_ERROR(BindAll(lease->db(), stmt, params));
  SearchPage page;
  std::string last_position;
  while (true) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      return SqliteError(
          rc, lease->db(),
          absl::StrCat("dataset ", binding.dataset, ": cannot read table \"", binding.table, "\""));
    }
    if (page.records.size() == limit) {
      page.next_page_token = EncodePageToken(binding, filters, last_position);
      break;
    }
    last_position = EncodePosition(stmt, 0);
    NDX_ASSIGN_OR_RETURN(std::string record, RowRecord(binding, selected, stmt, 1));
    page.records.push_back(std::move(record));
  }
  return page;
}

}  // namespace ndx::adapters
