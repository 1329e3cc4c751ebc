#ifndef NDX_ADAPTERS_FIELD_VALUE_H_
#define NDX_ADAPTERS_FIELD_VALUE_H_

#include <cstdint>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

// The SQL half of a field's value in the adapter: a stored column value set into the protobuf
// field. The text half (keys and filters) is common/field_text.h, whose rules this follows so
// that a stored "true" or timestamp means what it means on the wire. Shared by every backend.
// Stateless; thread-safe.

namespace ndx::adapters {

// A non-NULL SQL column value, as SQL databases store them.
struct SqlText {
  absl::string_view text;
};
struct SqlBlob {
  absl::string_view bytes;
};
using SqlValue = std::variant<int64_t, double, SqlText, SqlBlob>;

// Sets `field` of `message` from a column value. Numbers may be stored as numbers or as their
// text; bools as 0/1 or true/false; enums as numbers or names; Timestamps as integer or real
// seconds since the epoch, RFC 3339 text, or SQLite's own "YYYY-MM-DD HH:MM:SS[.SSS]" (UTC).
// kInternal 'field "x" expects int32, but the column holds a text value that does not convert'
// when the stored value does not fit: the database, not the caller, is at fault. The message
// names the kind of value stored, never the value, which is a citizen's data.
// REQUIRES: CheckSupportedField(field) is OK and `field` belongs to message's type.
absl::Status SetFieldFromSql(const google::protobuf::FieldDescriptor& field, const SqlValue& value,
                             google::protobuf::Message* message);

// Whether a byte string is well-formed UTF-8 (proto3 strings must be).
bool IsValidUtf8(absl::string_view text);

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_FIELD_VALUE_H_
