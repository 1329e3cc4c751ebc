#ifndef NDX_ADAPTERS_FIELD_VALUE_H_
#define NDX_ADAPTERS_FIELD_VALUE_H_

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

// Conversions between the three shapes a field's value takes in the adapter: the text of a key or
// filter on the wire, the typed value of an SQL column, and the protobuf field. Shared by every
// backend so that "12", "MALE" or "2024-01-02T03:04:05Z" mean the same thing whatever the
// database. Stateless; thread-safe.

namespace ndx::adapters {

// Which protobuf fields a dataset may have: singular scalars, strings, bytes, enums and
// google.protobuf.Timestamp. kInvalidArgument naming the field otherwise.
absl::Status CheckSupportedField(const google::protobuf::FieldDescriptor& field);
// Which fields may be a dataset's key: strings, bytes and integers (values with an exact, total
// order that a keyset page token can carry).
absl::Status CheckKeyField(const google::protobuf::FieldDescriptor& field);

// The type a text value must spell, for error messages: "int32", "bool (true, false, 1 or 0)".
std::string ExpectedType(const google::protobuf::FieldDescriptor& field);

struct EnumValue {
  int number = 0;
  // Empty when the number has no name in the enum.
  std::string name;
};
struct BytesValue {
  std::string bytes;
};
// A key or filter value converted to its field's type: every signed integer type is int64_t,
// unsigned ones uint64_t, float and double are double, strings std::string.
using FieldValue =
    std::variant<int64_t, uint64_t, double, bool, std::string, BytesValue, EnumValue, absl::Time>;

// Converts the text of a key or filter to the field's type:
//   integers     decimal ("-12"), range-checked for 32-bit types
//   bool         true, false, 1 or 0
//   float/double decimal or exponent notation
//   string       as is
//   bytes        base64 (standard or URL-safe, padding optional)
//   enum         a value name ("MALE") or number ("1")
//   Timestamp    RFC 3339 ("2024-01-02T03:04:05.5+07:00") or integer seconds since the epoch
// kInvalidArgument 'field "x" expects int32, got "abc"' otherwise.
// REQUIRES: CheckSupportedField(field) is OK.
absl::StatusOr<FieldValue> ParseFieldText(const google::protobuf::FieldDescriptor& field,
                                          absl::string_view text);

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
// kInternal 'expects int32, the column holds "abc"' when the stored value does not fit: the
// database, not the caller, is at fault.
// REQUIRES: CheckSupportedField(field) is OK and `field` belongs to message's type.
absl::Status SetFieldFromSql(const google::protobuf::FieldDescriptor& field, const SqlValue& value,
                             google::protobuf::Message* message);

// Whether a byte string is well-formed UTF-8 (proto3 strings must be).
bool IsValidUtf8(absl::string_view text);

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_FIELD_VALUE_H_
