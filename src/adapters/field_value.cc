#include "adapters/field_value.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <variant>

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
  return "a blob";
}

absl::Status SqlMismatch(const FieldDescriptor& field, const SqlValue& value) {
  return absl::InternalError(absl::StrCat("field \"", field.name(), "\" expects ",
                                          ExpectedType(field), ", but the column holds ",
                                          DescribeSqlKind(value), " that does not convert to it"));
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

void SetTimestamp(const FieldDescriptor& field, absl::Time time, Message* message) {
  Message* timestamp = message->GetReflection()->MutableMessage(message, &field);
  const google::protobuf::Descriptor* type = timestamp->GetDescriptor();
  // Floor division keeps nanos in [0, 1e9) for times before the epoch, as Timestamp requires.
  int64_t seconds = absl::ToUnixSeconds(time);
  int32_t nanos =
      static_cast<int32_t>((time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1));
  timestamp->GetReflection()->SetInt64(timestamp, type->FindFieldByName("seconds"), seconds);
  timestamp->GetReflection()->SetInt32(timestamp, type->FindFieldByName("nanos"), nanos);
}

}  // namespace

absl::Status SetFieldFromSql(const FieldDescriptor& field, const SqlValue& value,
                             Message* message) {
  const Reflection* reflection = message->GetReflection();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      int64_t v = 0;
      if (!SqlToInt64(value, &v) || v < std::numeric_limits<int32_t>::min() ||
          v > std::numeric_limits<int32_t>::max()) {
        break;
      }
      reflection->SetInt32(message, &field, static_cast<int32_t>(v));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = 0;
      if (!SqlToInt64(value, &v)) break;
      reflection->SetInt64(message, &field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint64_t v = 0;
      if (!SqlToUint64(value, &v) || v > std::numeric_limits<uint32_t>::max()) break;
      reflection->SetUInt32(message, &field, static_cast<uint32_t>(v));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v = 0;
      if (!SqlToUint64(value, &v)) break;
      reflection->SetUInt64(message, &field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v = 0;
      if (!SqlToDouble(value, &v)) break;
      reflection->SetDouble(message, &field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v = 0;
      if (!SqlToDouble(value, &v)) break;
      reflection->SetFloat(message, &field, static_cast<float>(v));
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
      reflection->SetBool(message, &field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v;
      if (const auto* text = std::get_if<SqlText>(&value)) {
        v = std::string(text->text);
      } else if (const auto* blob = std::get_if<SqlBlob>(&value)) {
        v = std::string(blob->bytes);
      } else if (field.type() == FieldDescriptor::TYPE_BYTES) {
        break;
      } else if (const auto* i = std::get_if<int64_t>(&value)) {
        v = absl::StrCat(*i);
      } else {
        v = DoubleToString(std::get<double>(value));
      }
      if (field.type() == FieldDescriptor::TYPE_STRING && !IsValidUtf8(v)) {
        return absl::InternalError(absl::StrCat("field \"", field.name(),
                                                "\" is a string but the column holds ",
                                                DescribeSqlKind(value), " that is not UTF-8"));
      }
      reflection->SetString(message, &field, std::move(v));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      int64_t number = 0;
      if (const auto* text = std::get_if<SqlText>(&value)) {
        if (const auto* named = field.enum_type()->FindValueByName(std::string(text->text))) {
          reflection->SetEnumValue(message, &field, named->number());
          return absl::OkStatus();
        }
      }
      if (!SqlToInt64(value, &number) || number < std::numeric_limits<int32_t>::min() ||
          number > std::numeric_limits<int32_t>::max()) {
        break;
      }
      reflection->SetEnumValue(message, &field, static_cast<int>(number));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      absl::Time time;
      if (!SqlToTime(value, &time)) break;
      SetTimestamp(field, time, message);
      return absl::OkStatus();
    }
  }
  return SqlMismatch(field, value);
}

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code_point = 0;
    if (c < 0x80) {
      ++i;
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
