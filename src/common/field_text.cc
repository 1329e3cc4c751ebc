#include "common/field_text.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ndx {
namespace {

using google::protobuf::FieldDescriptor;

constexpr absl::string_view kTimestampType = "google.protobuf.Timestamp";

bool IsTimestamp(const FieldDescriptor& field) {
  return field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
         field.message_type()->full_name() == kTimestampType;
}

// The field and the type it expects, not the text: that is a caller's key or filter value.
absl::Status TextMismatch(const FieldDescriptor& field) {
  return absl::InvalidArgumentError(absl::StrCat("field \"", field.name(), "\" expects ",
                                                 ExpectedType(field),
                                                 " (the value given does not convert)"));
}

}  // namespace

bool ParseBoolText(absl::string_view text, bool* out) {
  if (text == "true" || text == "1") {
    *out = true;
    return true;
  }
  if (text == "false" || text == "0") {
    *out = false;
    return true;
  }
  return false;
}

bool InTimestampRange(absl::Time time) {
  return time >= absl::FromUnixSeconds(kMinTimestampSeconds) &&
         time < absl::FromUnixSeconds(kMaxTimestampSeconds + 1);
}

bool ParseRfc3339Text(absl::string_view text, absl::Time* out) {
  std::string error;
  return absl::ParseTime(absl::RFC3339_full, text, out, &error) && InTimestampRange(*out);
}

absl::Status CheckSupportedField(const FieldDescriptor& field) {
  if (field.is_map()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field \"", field.name(),
        "\" is a map; a column holds one value or an array of values, never key-value pairs"));
  }
  if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !IsTimestamp(field)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field \"", field.name(), "\" has message type ", field.message_type()->full_name(),
        "; the only message type a column can hold is ", kTimestampType));
  }
  return absl::OkStatus();
}

absl::Status CheckFilterField(const FieldDescriptor& field) {
  if (!field.is_repeated()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("field \"", field.name(),
                   "\" is repeated; a filter compares a single value, so repeated fields cannot "
                   "be filtered"));
}

absl::Status CheckKeyField(const FieldDescriptor& field) {
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
    case FieldDescriptor::CPPTYPE_STRING:
      if (!field.is_repeated()) return absl::OkStatus();
      break;
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("key field \"", field.name(), "\" is ", field.is_repeated() ? "repeated " : "",
                   field.type_name(), "; a key must be a singular string, bytes or integer field"));
}

std::string ExpectedType(const FieldDescriptor& field) {
  if (IsTimestamp(field)) {
    return absl::StrCat(kTimestampType, " (RFC 3339 or integer seconds since the epoch)");
  }
  switch (field.type()) {
    case FieldDescriptor::TYPE_BOOL:
      return "bool (true, false, 1 or 0)";
    case FieldDescriptor::TYPE_BYTES:
      return "bytes (base64)";
    case FieldDescriptor::TYPE_ENUM:
      return absl::StrCat("enum ", field.enum_type()->full_name(), " (a value name or number)");
    default:
      return field.type_name();
  }
}

absl::StatusOr<FieldValue> ParseFieldText(const FieldDescriptor& field, absl::string_view text) {
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t value = 0;
      if (absl::SimpleAtoi(text, &value)) return FieldValue(int64_t{value});
      break;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t value = 0;
      if (absl::SimpleAtoi(text, &value)) return FieldValue(value);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t value = 0;
      if (absl::SimpleAtoi(text, &value)) return FieldValue(uint64_t{value});
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t value = 0;
      if (absl::SimpleAtoi(text, &value)) return FieldValue(value);
      break;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double value = 0;
      if (absl::SimpleAtod(text, &value)) return FieldValue(value);
      break;
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      float value = 0;
      if (absl::SimpleAtof(text, &value)) return FieldValue(double{value});
      break;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool value = false;
      if (ParseBoolText(text, &value)) return FieldValue(value);
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      if (field.type() != FieldDescriptor::TYPE_BYTES) return FieldValue(std::string(text));
      BytesValue value;
      if (absl::Base64Unescape(text, &value.bytes) ||
          absl::WebSafeBase64Unescape(text, &value.bytes)) {
        return FieldValue(std::move(value));
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const google::protobuf::EnumDescriptor* type = field.enum_type();
      if (const auto* named = type->FindValueByName(std::string(text))) {
        return FieldValue(EnumValue{named->number(), named->name()});
      }
      int32_t number = 0;
      if (absl::SimpleAtoi(text, &number)) {
        const auto* known = type->FindValueByNumber(number);
        return FieldValue(EnumValue{number, known != nullptr ? known->name() : ""});
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      absl::Time time;
      int64_t seconds = 0;
      if (absl::SimpleAtoi(text, &seconds)) {
        if (seconds >= kMinTimestampSeconds && seconds <= kMaxTimestampSeconds) {
          return FieldValue(absl::FromUnixSeconds(seconds));
        }
      } else if (ParseRfc3339Text(text, &time)) {
        return FieldValue(time);
      }
      break;
    }
  }
  return TextMismatch(field);
}

}  // namespace ndx
