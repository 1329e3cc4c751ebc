#include "adapters/field_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/field_text.h"

namespace ndx::adapters {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string DoubleToString(double value) {
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, result.ptr);
}

// What kind of value a column holds, for messages: never the value itself, which is a citizen's
// data and would travel to the gateway and into its logs.
absl::string_view DescribeSqlKind(const SqlValue& value) {
  if (std::holds_alternative<int64_t>(value)) return "an integer";
  if (std::holds_alternative<double>(value)) return "a real number";
  if (std::holds_alternative<SqlText>(value)) return "a text value";
  if (std::holds_alternative<SqlBlob>(value)) return "a blob";
  return "an array";
}

absl::Status SqlMismatch(const FieldDescriptor& field, const SqlValue& value) {
  return absl::InternalError(absl::StrCat("field \"", field.name(), "\" expects ",
                                          ExpectedType(field), ", but the column holds ",
                                          DescribeSqlKind(value), " that does not convert to it"));
}

// A repeated field reads from array columns only.
absl::Status NotAnArray(const FieldDescriptor& field, const SqlValue& value) {
  return absl::InternalError(absl::StrCat("field \"", field.name(), "\" is repeated (",
                                          ExpectedType(field), " elements), but the column holds ",
                                          DescribeSqlKind(value), ", not an array"));
}

// An element's error, saying which element: its position, which is not a citizen's data.
absl::Status ElementError(const absl::Status& status, size_t index) {
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), " (element ", index + 1, " of the array)"));
}

// RFC 3339 as on the wire, or SQLite's own zone-less UTC forms ("YYYY-MM-DD HH:MM:SS.SSS").
bool ParseSqlTimestampText(absl::string_view text, absl::Time* out) {
  if (ParseRfc3339Text(text, out)) return true;
  std::string error;
  for (const char* format : {"%Y-%m-%d %H:%M:%E*S", "%Y-%m-%dT%H:%M:%E*S"}) {
    if (absl::ParseTime(format, text, absl::UTCTimeZone(), out, &error)) {
      return InTimestampRange(*out);
    }
  }
  return false;
}

// An exact integer from any numeric storage; text is parsed, a real must be integral.
bool SqlToInt64(const SqlValue& value, int64_t* out) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    *out = *i;
    return true;
  }
  if (const auto* d = std::get_if<double>(&value)) {
    // 2^63 is exactly representable; anything at or past it does not fit.
    if (*d != std::trunc(*d) || *d < -9223372036854775808.0 || *d >= 9223372036854775808.0) {
      return false;
    }
    *out = static_cast<int64_t>(*d);
    return true;
  }
  if (const auto* t = std::get_if<SqlText>(&value)) return absl::SimpleAtoi(t->text, out);
  return false;
}

bool SqlToUint64(const SqlValue& value, uint64_t* out) {
  // SQLite integers are signed 64-bit, so values past INT64_MAX can only be stored as text.
  if (const auto* t = std::get_if<SqlText>(&value)) return absl::SimpleAtoi(t->text, out);
  int64_t signed_value = 0;
  if (!SqlToInt64(value, &signed_value) || signed_value < 0) return false;
  *out = static_cast<uint64_t>(signed_value);
  return true;
}

bool SqlToDouble(const SqlValue& value, double* out) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    *out = static_cast<double>(*i);
    return true;
  }
  if (const auto* d = std::get_if<double>(&value)) {
    *out = *d;
    return true;
  }
  if (const auto* t = std::get_if<SqlText>(&value)) return absl::SimpleAtod(t->text, out);
  return false;
}

bool SqlToTime(const SqlValue& value, absl::Time* out) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    if (*i < kMinTimestampSeconds || *i > kMaxTimestampSeconds) return false;
    *out = absl::FromUnixSeconds(*i);
    return true;
  }
  if (const auto* d = std::get_if<double>(&value)) {
    if (!std::isfinite(*d)) return false;
    *out = absl::FromUnixNanos(0) + absl::Seconds(*d);
    return InTimestampRange(*out);
  }
  if (const auto* t = std::get_if<SqlText>(&value)) {
    int64_t seconds = 0;
    if (absl::SimpleAtoi(t->text, &seconds)) return SqlToTime(seconds, out);
    return ParseSqlTimestampText(t->text, out);
  }
  return false;
}

// A column value converted to its field's type: what SetFieldFromSql stores and RecordWriter
// encodes. Which member holds it follows the field's C++ type.
struct Converted {
  // INT32, INT64, ENUM, BOOL (0 or 1); a Timestamp's seconds.
  int64_t integer = 0;
  // UINT32, UINT64.
  uint64_t unsigned_integer = 0;
  // DOUBLE, FLOAT (already narrowed to float's precision when stored in `real_float`).
  double real = 0;
  float real_float = 0;
  // STRING and BYTES: the column's own bytes, or `owned` for a number written as text.
  absl::string_view text;
  std::string owned;
  // A Timestamp's nanos, in [0, 1e9).
  int32_t nanos = 0;
};

// Floor division keeps nanos in [0, 1e9) for times before the epoch, as Timestamp requires.
void SplitTimestamp(absl::Time time, Converted* out) {
  const int64_t seconds = absl::ToUnixSeconds(time);
  out->integer = seconds;
  out->nanos = static_cast<int32_t>((time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1));
}

// The conversion rules of SetFieldFromSql (see field_value.h) for one value of `field` (an element
// of a repeated one), for both of its users.
absl::Status Convert(const FieldDescriptor& field, const SqlValue& value, Converted* out) {
  // One value is a scalar; the conversions below take any scalar storage.
  if (std::holds_alternative<SqlArray>(value)) return SqlMismatch(field, value);
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      int64_t v = 0;
      if (!SqlToInt64(value, &v) || v < std::numeric_limits<int32_t>::min() ||
          v > std::numeric_limits<int32_t>::max()) {
        break;
      }
      out->integer = v;
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64:
      if (!SqlToInt64(value, &out->integer)) break;
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint64_t v = 0;
      if (!SqlToUint64(value, &v) || v > std::numeric_limits<uint32_t>::max()) break;
      out->unsigned_integer = v;
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64:
      if (!SqlToUint64(value, &out->unsigned_integer)) break;
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_DOUBLE:
      if (!SqlToDouble(value, &out->real)) break;
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v = 0;
      if (!SqlToDouble(value, &v)) break;
      out->real_float = static_cast<float>(v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      int64_t number = 0;
      bool v = false;
      if (SqlToInt64(value, &number) && (number == 0 || number == 1)) {
        v = number == 1;
      } else if (const auto* text = std::get_if<SqlText>(&value);
                 text == nullptr || !ParseBoolText(text->text, &v)) {
        break;
      }
      out->integer = v ? 1 : 0;
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      if (const auto* text = std::get_if<SqlText>(&value)) {
        out->text = text->text;
      } else if (const auto* blob = std::get_if<SqlBlob>(&value)) {
        out->text = blob->bytes;
      } else if (field.type() == FieldDescriptor::TYPE_BYTES) {
        break;
      } else if (const auto* i = std::get_if<int64_t>(&value)) {
        out->owned = absl::StrCat(*i);
        out->text = out->owned;
      } else {
        out->owned = DoubleToString(std::get<double>(value));
        out->text = out->owned;
      }
      if (field.type() == FieldDescriptor::TYPE_STRING && !IsValidUtf8(out->text)) {
        return absl::InternalError(absl::StrCat("field \"", field.name(),
                                                "\" is a string but the column holds ",
                                                DescribeSqlKind(value), " that is not UTF-8"));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (const auto* text = std::get_if<SqlText>(&value)) {
        if (const auto* named = field.enum_type()->FindValueByName(std::string(text->text))) {
          out->integer = named->number();
          return absl::OkStatus();
        }
      }
      int64_t number = 0;
      if (!SqlToInt64(value, &number) || number < std::numeric_limits<int32_t>::min() ||
          number > std::numeric_limits<int32_t>::max()) {
        break;
      }
      out->integer = number;
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      absl::Time time;
      if (!SqlToTime(value, &time)) break;
      SplitTimestamp(time, out);
      return absl::OkStatus();
    }
  }
  return SqlMismatch(field, value);
}

// Wire format (https://protobuf.dev/programming-guides/encoding/).
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void PutVarint(uint64_t value, std::string* out) {
  char bytes[10];
  size_t size = 0;
  while (value >= 0x80) {
    bytes[size++] = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  bytes[size++] = static_cast<char>(value);
  out->append(bytes, size);
}

void PutTag(int number, WireType type, std::string* out) {
  PutVarint((static_cast<uint64_t>(number) << 3) | type, out);
}

void PutFixed32(uint32_t value, std::string* out) {
  char bytes[4];
  for (char& byte : bytes) {
    byte = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out->append(bytes, sizeof(bytes));
}

void PutFixed64(uint64_t value, std::string* out) {
  char bytes[8];
  for (char& byte : bytes) {
    byte = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out->append(bytes, sizeof(bytes));
}

template <typename To, typename From>
To BitsOf(From value) {
  static_assert(sizeof(To) == sizeof(From));
  To bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// Negative int32 values are sign-extended to ten bytes on the wire, as protobuf writes them.
uint64_t Int32Varint(int64_t value) { return static_cast<uint64_t>(value); }

// Whether a field without presence holds its default value, which the wire format leaves out.
// Floating-point values compare by their bits, as protobuf's reflection does: -0.0 is written.
bool IsDefault(const FieldDescriptor& field, const Converted& value) {
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_BOOL:
    case FieldDescriptor::CPPTYPE_ENUM:
      return value.integer == 0;
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return value.unsigned_integer == 0;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return BitsOf<uint64_t>(value.real) == 0;
    case FieldDescriptor::CPPTYPE_FLOAT:
      return BitsOf<uint32_t>(value.real_float) == 0;
    case FieldDescriptor::CPPTYPE_STRING:
      return value.text.empty();
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return false;
  }
  return false;
}

// The wire type of a field's values (a packed field's payload aside).
WireType WireTypeOf(const FieldDescriptor& field) {
  switch (field.type()) {
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_SINT64:
    case FieldDescriptor::TYPE_BOOL:
    case FieldDescriptor::TYPE_ENUM:
      return kVarint;
    case FieldDescriptor::TYPE_FIXED64:
    case FieldDescriptor::TYPE_SFIXED64:
    case FieldDescriptor::TYPE_DOUBLE:
      return kFixed64;
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32:
    case FieldDescriptor::TYPE_FLOAT:
      return kFixed32;
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP:
      break;
  }
  return kLengthDelimited;
}

// Appends what follows the tag of `field` holding `value` (never a message field): the number's
// encoding, or a string's length and bytes. A packed field's payload is its elements' encodings
// one after another.
void PutValue(const FieldDescriptor& field, const Converted& value, std::string* out) {
  switch (field.type()) {
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_ENUM:
      PutVarint(Int32Varint(value.integer), out);
      break;
    case FieldDescriptor::TYPE_SINT32: {
      const auto v = static_cast<int32_t>(value.integer);
      PutVarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31), out);
      break;
    }
    case FieldDescriptor::TYPE_SFIXED32:
      PutFixed32(static_cast<uint32_t>(static_cast<int32_t>(value.integer)), out);
      break;
    case FieldDescriptor::TYPE_INT64:
      PutVarint(static_cast<uint64_t>(value.integer), out);
      break;
    case FieldDescriptor::TYPE_SINT64:
      PutVarint(
          (static_cast<uint64_t>(value.integer) << 1) ^ static_cast<uint64_t>(value.integer >> 63),
          out);
      break;
    case FieldDescriptor::TYPE_SFIXED64:
      PutFixed64(static_cast<uint64_t>(value.integer), out);
      break;
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_UINT64:
      PutVarint(value.unsigned_integer, out);
      break;
    case FieldDescriptor::TYPE_FIXED32:
      PutFixed32(static_cast<uint32_t>(value.unsigned_integer), out);
      break;
    case FieldDescriptor::TYPE_FIXED64:
      PutFixed64(value.unsigned_integer, out);
      break;
    case FieldDescriptor::TYPE_DOUBLE:
      PutFixed64(BitsOf<uint64_t>(value.real), out);
      break;
    case FieldDescriptor::TYPE_FLOAT:
      PutFixed32(BitsOf<uint32_t>(value.real_float), out);
      break;
    case FieldDescriptor::TYPE_BOOL:
      PutVarint(value.integer != 0 ? 1 : 0, out);
      break;
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
      PutVarint(value.text.size(), out);
      out->append(value.text.data(), value.text.size());
      break;
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP:
      break;
  }
}

// Appends `field` holding `value` (never a message field), tag and value.
void PutScalar(const FieldDescriptor& field, const Converted& value, std::string* out) {
  PutTag(field.number(), WireTypeOf(field), out);
  PutValue(field, value, out);
}

// A google.protobuf.Timestamp field: seconds = 1 and nanos = 2, each left out when zero.
void PutTimestamp(const FieldDescriptor& field, const Converted& value, std::string* out) {
  std::string body;
  if (value.integer != 0) {
    PutTag(1, kVarint, &body);
    PutVarint(static_cast<uint64_t>(value.integer), &body);
  }
  if (value.nanos != 0) {
    PutTag(2, kVarint, &body);
    PutVarint(Int32Varint(value.nanos), &body);
  }
  PutTag(field.number(), kLengthDelimited, out);
  PutVarint(body.size(), out);
  out->append(body);
}

// Whether an enum field stores numbers its enum does not name as they are. Protobuf's reflection
// (CreateUnknownEnumValues) decides by the syntax of the field's file: proto3 enums are open; a
// proto2 field keeps an unnamed number among the message's unknown fields instead.
bool StoresUnknownEnumValues(const FieldDescriptor& field) {
  return field.file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO3;
}

// Whether a closed enum field keeps `value` among the unknown fields rather than in the field.
bool IsUnknownClosedEnumValue(const FieldDescriptor& field, const Converted& value) {
  return field.cpp_type() == FieldDescriptor::CPPTYPE_ENUM && !StoresUnknownEnumValues(field) &&
         field.enum_type()->FindValueByNumber(static_cast<int>(value.integer)) == nullptr;
}

void SetTimestamp(const Converted& value, Message* timestamp) {
  const google::protobuf::Descriptor* type = timestamp->GetDescriptor();
  timestamp->GetReflection()->SetInt64(timestamp, type->FindFieldByName("seconds"), value.integer);
  timestamp->GetReflection()->SetInt32(timestamp, type->FindFieldByName("nanos"), value.nanos);
}

// Appends one element to a repeated field. Reflection's AddEnumValue puts a number a closed enum
// does not name among the unknown fields itself.
void AddElement(const FieldDescriptor& field, const Converted& v, Message* message) {
  const Reflection* reflection = message->GetReflection();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      reflection->AddInt32(message, &field, static_cast<int32_t>(v.integer));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      reflection->AddInt64(message, &field, v.integer);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      reflection->AddUInt32(message, &field, static_cast<uint32_t>(v.unsigned_integer));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      reflection->AddUInt64(message, &field, v.unsigned_integer);
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      reflection->AddDouble(message, &field, v.real);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      reflection->AddFloat(message, &field, v.real_float);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      reflection->AddBool(message, &field, v.integer != 0);
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      reflection->AddString(message, &field, std::string(v.text));
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      reflection->AddEnumValue(message, &field, static_cast<int>(v.integer));
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      SetTimestamp(v, reflection->AddMessage(message, &field));
      break;
  }
}

}  // namespace

absl::Status SetFieldFromSql(const FieldDescriptor& field, const SqlValue& value,
                             Message* message) {
  if (field.is_repeated()) {
    const auto* array = std::get_if<SqlArray>(&value);
    if (array == nullptr) return NotAnArray(field, value);
    for (size_t i = 0; i < array->elements.size(); ++i) {
      Converted element;
      absl::Status status = Convert(field, array->elements[i], &element);
      if (!status.ok()) return ElementError(status, i);
      AddElement(field, element, message);
    }
    return absl::OkStatus();
  }
  Converted v;
  absl::Status status = Convert(field, value, &v);
  if (!status.ok()) return status;
  const Reflection* reflection = message->GetReflection();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      reflection->SetInt32(message, &field, static_cast<int32_t>(v.integer));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      reflection->SetInt64(message, &field, v.integer);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      reflection->SetUInt32(message, &field, static_cast<uint32_t>(v.unsigned_integer));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      reflection->SetUInt64(message, &field, v.unsigned_integer);
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      reflection->SetDouble(message, &field, v.real);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      reflection->SetFloat(message, &field, v.real_float);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      reflection->SetBool(message, &field, v.integer != 0);
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      reflection->SetString(message, &field, std::string(v.text));
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      reflection->SetEnumValue(message, &field, static_cast<int>(v.integer));
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      SetTimestamp(v, reflection->MutableMessage(message, &field));
      break;
  }
  return absl::OkStatus();
}

void RecordWriter::NoteSpan(int number, size_t start) {
  if (!spans_.empty() && number < spans_.back().number) in_order_ = false;
  spans_.push_back({number, start});
}

absl::Status RecordWriter::Add(const FieldDescriptor& field, const SqlValue& value) {
  if (field.is_repeated()) {
    const auto* array = std::get_if<SqlArray>(&value);
    if (array == nullptr) return NotAnArray(field, value);
    return AddRepeated(field, *array);
  }
  Converted v;
  absl::Status status = Convert(field, value, &v);
  if (!status.ok()) return status;
  if (IsUnknownClosedEnumValue(field, v)) {
    PutTag(field.number(), kVarint, &unknown_);
    PutVarint(Int32Varint(v.integer), &unknown_);
    return absl::OkStatus();
  }
  if (!field.has_presence() && IsDefault(field, v)) return absl::OkStatus();
  NoteSpan(field.number(), known_.size());
  if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    PutTimestamp(field, v, &known_);
  } else {
    PutScalar(field, v, &known_);
  }
  return absl::OkStatus();
}

// A repeated field is one entry per element (defaults included, as a list keeps every element),
// or, packed, one length-delimited entry holding the elements' values; an empty one is left out.
absl::Status RecordWriter::AddRepeated(const FieldDescriptor& field, const SqlArray& array) {
  const size_t known_start = known_.size();
  const size_t unknown_start = unknown_.size();
  const bool packed = field.is_packed();
  packed_.clear();
  for (size_t i = 0; i < array.elements.size(); ++i) {
    Converted v;
    absl::Status status = Convert(field, array.elements[i], &v);
    if (!status.ok()) {
      known_.resize(known_start);
      unknown_.resize(unknown_start);
      return ElementError(status, i);
    }
    if (IsUnknownClosedEnumValue(field, v)) {
      // As reflection keeps them: one unpacked entry each, in the unknown fields.
      PutTag(field.number(), kVarint, &unknown_);
      PutVarint(Int32Varint(v.integer), &unknown_);
    } else if (packed) {
      PutValue(field, v, &packed_);
    } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      PutTimestamp(field, v, &known_);
    } else {
      PutScalar(field, v, &known_);
    }
  }
  if (!packed_.empty()) {
    PutTag(field.number(), kLengthDelimited, &known_);
    PutVarint(packed_.size(), &known_);
    known_.append(packed_);
  }
  if (known_.size() > known_start) NoteSpan(field.number(), known_start);
  return absl::OkStatus();
}

std::string RecordWriter::Finish() && {
  if (!in_order_) {
    // Fields were added in declaration order, which differs from their numbers' here.
    std::vector<size_t> order(spans_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [this](size_t a, size_t b) { return spans_[a].number < spans_[b].number; });
    std::string sorted;
    sorted.reserve(known_.size() + unknown_.size());
    for (size_t i : order) {
      const size_t end = i + 1 < spans_.size() ? spans_[i + 1].start : known_.size();
      sorted.append(known_, spans_[i].start, end - spans_[i].start);
    }
    known_ = std::move(sorted);
  }
  known_.append(unknown_);
  return std::move(known_);
}

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code_point = 0;
    if (c < 0x80) {
      ++i;
      // Most stored text is ASCII: skip it 32 bytes at a time while no byte has its high bit set.
      while (i + 32 <= text.size()) {
        uint64_t words[4];
        std::memcpy(words, text.data() + i, sizeof(words));
        if (((words[0] | words[1] | words[2] | words[3]) & 0x8080808080808080) != 0) break;
        i += 32;
      }
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      code_point = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code_point = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code_point = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace ndx::adapters
