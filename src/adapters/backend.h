#ifndef NDX_ADAPTERS_BACKEND_H_
#define NDX_ADAPTERS_BACKEND_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/field_value.h"
#include "common/field_text.h"
#include "common/schema.h"
#include "google/protobuf/descriptor.h"

namespace ndx::adapters {

// Page sizes of Search: 0 asks for the default; larger requests are capped (the page then ends
// early and its token continues the scan).
inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;

// One field of a dataset's message and the column it is read from.
struct FieldBinding {
  const google::protobuf::FieldDescriptor* field = nullptr;
  std::string column;
};

// The loaded, validated form of an ndx.v1.DatasetBinding: which table serves which message type.
// Identifiers (table, columns) have been checked to be plain SQL identifiers. Immutable after
// loading; thread-safe.
struct Binding {
  // Dataset id, "agency/name".
  std::string dataset;
  // Owns the descriptors below.
  std::shared_ptr<const Schema> schema;
  const google::protobuf::Descriptor* message = nullptr;
  std::string table;
  // Every field of `message`, in declaration order.
  std::vector<FieldBinding> fields;
  // Index in `fields` of the key field.
  int key_index = 0;

  const FieldBinding& key() const { return fields[key_index]; }
  // nullptr when the message has no such field.
  const FieldBinding* FindField(absl::string_view name) const;
  // The bindings of the requested fields, in declaration order and without repeats; every field
  // when `names` is empty. kInvalidArgument naming the first unknown field.
  absl::StatusOr<std::vector<const FieldBinding*>> SelectFields(
      const std::vector<std::string>& names) const;
};

// An equality condition: the field's value, as text, converted to the field's type.
struct FieldFilter {
  std::string field;
  std::string value;
};

// The checks every backend makes of a call before it builds its query; messages name fields and
// types, never values.
// The key converted to the key field's type; kInvalidArgument "key: ..." otherwise.
absl::StatusOr<FieldValue> ParseKey(const Binding& binding, absl::string_view key);
// A filter's field and its value converted to the field's type; kInvalidArgument "filter: ..."
// naming an unknown field, a repeated one (CheckFilterField) or the type expected.
struct ParsedFilter {
  const FieldBinding* field = nullptr;
  FieldValue value;
};
absl::StatusOr<ParsedFilter> ParseFilter(const Binding& binding, const FieldFilter& filter);
// The rows a Search page holds for a requested `page_size`; kInvalidArgument when negative.
absl::StatusOr<size_t> PageRows(int page_size);

// An SQL identifier (table, column) double-quoted. Identifiers are validated at load
// ([A-Za-z_][A-Za-z0-9_]*); doubling quotes keeps this safe even for one that skipped validation.
std::string QuoteIdentifier(absl::string_view identifier);

// The serialized message of one row, the same for every backend: `value_of(i)` gives the stored
// value of `selected[i]` (an SqlArray for a repeated field; nullopt for NULL, which leaves the
// field unset), or the backend's error reading it. A value that does not fit its field is an error
// naming the dataset, the column and the table. The SqlValue may point into storage of value_of's,
// valid until its next call.
absl::StatusOr<std::string> BuildRecord(
    const Binding& binding, const std::vector<const FieldBinding*>& selected,
    absl::FunctionRef<absl::StatusOr<std::optional<SqlValue>>(size_t)> value_of);

struct SearchPage {
  // Serialized messages of the binding's type, in key order.
  std::vector<std::string> records;
  // Empty on the last page.
  std::string next_page_token;
};

// A store that datasets are read from: the agency's database behind the adapter. Implementations
// are named after what they are (SqliteBackend, PostgresqlBackend).
// Values (key, filters) arrive as text and are converted to the field's protobuf type; a value
// that does not convert is kInvalidArgument naming the field and the expected type. Error
// messages travel to the gateway: they may name datasets, tables, columns, fields and types, and
// never carry a key, a filter value or a stored value, which are citizens' data. Records hold
// only the requested fields (all fields when none are requested); NULL columns stay unset.
// A call still running at its `deadline` (the gRPC call's) stops its query and returns
// kDeadlineExceeded, so that a slow database does not keep working for a caller that gave up.
// Implementations must be thread-safe: the adapter calls them from many threads at once (gRPC's
// and its own; see AdapterService).
class Backend {
 public:
  virtual ~Backend() = default;

  // Checks that the backend can serve `binding` (its table and columns exist); the message says
  // what is missing. Called once per binding at load.
  virtual absl::Status CheckBinding(const Binding& binding) = 0;

  // Where `binding`'s records are read from, for the operator's log: "table residents".
  virtual std::string Source(const Binding& binding) const {
    return absl::StrCat("table ", binding.table);
  }

  // The record whose key field equals `key`, serialized; kNotFound when there is none.
  virtual absl::StatusOr<std::string> Fetch(const Binding& binding, absl::string_view key,
                                            const std::vector<std::string>& fields,
                                            absl::Time deadline) = 0;

  // The records matching every filter, ordered by key, starting after `page_token` (empty for the
  // first page). `page_size` 0 means kDefaultPageSize; it is capped at kMaxPageSize. A token that
  // this backend did not issue for the same dataset and filters is kInvalidArgument.
  virtual absl::StatusOr<SearchPage> Search(const Binding& binding,
                                            const std::vector<FieldFilter>& filters,
                                            const std::vector<std::string>& fields, int page_size,
                                            const std::string& page_token, absl::Time deadline) = 0;
};

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_BACKEND_H_
