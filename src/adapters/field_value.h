#ifndef NDX_ADAPTERS_FIELD_VALUE_H_
#define NDX_ADAPTERS_FIELD_VALUE_H_

#include <cstdint>
#include <string>
#include <variant>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

// The SQL half of a field's value in the adapter: a stored column value set into the protobuf
// field. The text half (keys and filters) is common/field_text.h, whose rules this follows so
// that a stored "true" or timestamp means what it means on the wire. Shared by every backend.
// Stateless; thread-safe.

namespace ndx::adapters {

// A non-NULL SQL column value, as SQL databases store them: a scalar, or an array column's
// elements. Every alternative is a view of storage the backend owns, so that a value costs no
// allocation and no copy of what it holds.
struct SqlText {
  absl::string_view text;
};
struct SqlBlob {
  absl::string_view bytes;
};
struct SqlArray;
using SqlValue = std::variant<int64_t, double, SqlText, SqlBlob, SqlArray>;
// The elements of an array column, in order; none is NULL (a repeated field has no place for
// one), and each is a scalar.
struct SqlArray {
  absl::Span<const SqlValue> elements;
};

// Sets `field` of `message` from a column value. Numbers may be stored as numbers or as their
// text; bools as 0/1 or true/false; enums as numbers or names; Timestamps as integer or real
// seconds since the epoch, RFC 3339 text, or SQLite's own "YYYY-MM-DD HH:MM:SS[.SSS]" (UTC).
// A repeated field takes an array, whose elements are added in order, each converted by those
// rules; a singular field takes a scalar.
// kInternal 'field "x" expects int32, but the column holds a text value that does not convert'
// when the stored value does not fit (an element's error also says which element): the database,
// not the caller, is at fault. The message names the kind of value stored, never the value,
// which is a citizen's data. After an error `message` may hold part of an array: discard it.
// REQUIRES: CheckSupportedField(field) is OK, `field` belongs to message's type, and a repeated
// `field` is empty.
absl::Status SetFieldFromSql(const google::protobuf::FieldDescriptor& field, const SqlValue& value,
                             google::protobuf::Message* message);

// A message in the wire format, written field by field from column values without building the
// message: the bytes are those that SerializePartialToString gives for the message that
// SetFieldFromSql fills from the same values (fields by number; a field without presence left
// out when it holds its default value; a value a closed enum does not name kept as an unknown
// field, after the known ones; a repeated field packed when the field is, every element written,
// default values too). A record is one of these: this spares each read a dynamic message, its
// reflection calls and a copy of every value.
// Fields of a real oneof are not supported (the message keeps only the member set last, which a
// writer cannot know before the end): use SetFieldFromSql for those.
// Not thread-safe; one per record.
class RecordWriter {
 public:
  // Converts `value` as SetFieldFromSql does, with the same errors, and appends the field. After
  // an error the record is as it was before the call.
  // REQUIRES: CheckSupportedField(field) is OK, `field` is not in a real oneof, belongs to the
  // message being written, and is added at most once.
  absl::Status Add(const google::protobuf::FieldDescriptor& field, const SqlValue& value);

  // The message's bytes. The writer is spent.
  std::string Finish() &&;

 private:
  // Where one field's bytes start in `known_`, for putting fields added out of number order back
  // in order.
  struct Span {
    int number;
    size_t start;
  };

  absl::Status AddRepeated(const google::protobuf::FieldDescriptor& field, const SqlArray& array);
  // Where a field's bytes written at `start` of `known_` go in the span list.
  void NoteSpan(int number, size_t start);

  std::string known_;
  std::string unknown_;
  // A packed field's values, gathered before their length is known; kept for its capacity.
  std::string packed_;
  absl::InlinedVector<Span, 16> spans_;
  bool in_order_ = true;
};

// Whether a byte string is well-formed UTF-8 (proto3 strings must be).
bool IsValidUtf8(absl::string_view text);

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_FIELD_VALUE_H_
