#ifndef NDX_COMMON_FIELD_TEXT_H_
#define NDX_COMMON_FIELD_TEXT_H_

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"

// The text form of a dataset field's value, as keys and filters carry it on the wire, and the
// fields a dataset may have. Depends only on the protobuf descriptor, so that the gateway can
// check a key or filter before forwarding it and every adapter backend reads "12", "MALE" or
// "2024-01-02T03:04:05Z" the same way. Stateless; thread-safe.
//
// Error messages name fields and types, never a value: a key or filter value is a citizen's
// identifier or data, and messages travel from adapters to the gateway and into logs.

namespace ndx {

// The range of google.protobuf.Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
inline constexpr int64_t kMinTimestampSeconds = -62135596800;
inline constexpr int64_t kMaxTimestampSeconds = 253402300799;

// Which protobuf fields a dataset may have: scalars, strings, bytes, enums and
// google.protobuf.Timestamp, singular or repeated (a repeated field is read from an array: a
// PostgreSQL array column, a JSON array). Maps and other message types are kInvalidArgument
// naming the field. Whether a backend can hold a repeated field is its own check: SQLite has no
// array columns.
absl::Status CheckSupportedField(const google::protobuf::FieldDescriptor& field);
// Whether a filter may name `field`: a filter compares the field with one value, which a repeated
// field does not hold. kInvalidArgument naming the field otherwise.
absl::Status CheckFilterField(const google::protobuf::FieldDescriptor& field);
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

// Converts the text of a key or filter to the field's type (a repeated field's element type):
//   integers     decimal ("-12"), range-checked for 32-bit types
//   bool         true, false, 1 or 0
//   float/double decimal or exponent notation
//   string       as is
//   bytes        base64 (standard or URL-safe, padding optional)
//   enum         a value name ("MALE") or number ("1")
//   Timestamp    RFC 3339 ("2024-01-02T03:04:05.5+07:00") or integer seconds since the epoch
// Otherwise kInvalidArgument 'field "x" expects int32 (the value given does not convert)', which
// leaves the value out.
// REQUIRES: CheckSupportedField(field) is OK.
absl::StatusOr<FieldValue> ParseFieldText(const google::protobuf::FieldDescriptor& field,
                                          absl::string_view text);

// The building blocks of ParseFieldText that a backend reuses when it reads stored values, so
// that a stored "true" or timestamp means what it means on the wire.
// true, false, 1 or 0.
bool ParseBoolText(absl::string_view text, bool* out);
// RFC 3339 with a zone ("Z" or an offset), within the range of google.protobuf.Timestamp.
bool ParseRfc3339Text(absl::string_view text, absl::Time* out);
// Whether `time` is within the range of google.protobuf.Timestamp.
bool InTimestampRange(absl::Time time);

}  // namespace ndx

#endif  // NDX_COMMON_FIELD_TEXT_H_
