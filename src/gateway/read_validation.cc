#include "gateway/read_validation.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/field_text.h"
#include "common/status_macros.h"

namespace ndx::gateway {
namespace {

// Text that goes to an adapter's database and to logs: printable, no control characters.
bool HasControlCharacter(absl::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

absl::Status ValidateFieldList(const google::protobuf::RepeatedPtrField<std::string>& fields) {
  if (fields.size() > kMaxRequestedFields) {
    return absl::InvalidArgumentError(absl::StrCat("too many fields requested (", fields.size(),
                                                   "); the limit is ", kMaxRequestedFields));
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& field : fields) {
    if (field.empty()) return absl::InvalidArgumentError("a requested field name is empty");
    if (!seen.insert(field).second) {
      return absl::InvalidArgumentError(absl::StrCat("field \"", field, "\" is requested twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRecordKey(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("key is empty");
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key is ", key.size(), " bytes; the limit is ", kMaxKeyBytes));
  }
  if (HasControlCharacter(key)) {
    return absl::InvalidArgumentError("key contains a control character");
  }
  return absl::OkStatus();
}

absl::Status ValidateGetRequest(const v1::GetRequest& request) {
  NDX_RETURN_IF_ERROR(ValidateRecordKey(request.key()));
  return ValidateFieldList(request.fields());
}

absl::Status ValidateQueryRequest(const v1::QueryRequest& request) {
  if (request.filters_size() > kMaxFilters) {
    return absl::InvalidArgumentError(absl::StrCat("too many filters (", request.filters_size(),
                                                   "); the limit is ", kMaxFilters));
  }
  absl::flat_hash_set<absl::string_view> filtered;
  for (const v1::Filter& filter : request.filters()) {
    if (filter.field().empty()) return absl::InvalidArgumentError("a filter has no field name");
    if (!filtered.insert(filter.field()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("field \"", filter.field(), "\" is filtered twice; give one value"));
    }
    if (filter.value().size() > kMaxFilterValueBytes || HasControlCharacter(filter.value())) {
      return absl::InvalidArgumentError(absl::StrCat("the value of filter \"", filter.field(),
                                                     "\" is longer than ", kMaxFilterValueBytes,
                                                     " bytes or contains a control character"));
    }
  }
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size is ", request.page_size(), "; give 0 (default) or more"));
  }
  if (request.page_token().size() > kMaxPageTokenBytes) {
    return absl::InvalidArgumentError("page_token is too long: pass back next_page_token as is");
  }
  return ValidateFieldList(request.fields());
}

absl::Status ValidateFieldValue(const google::protobuf::Descriptor& message,
                                absl::string_view field, absl::string_view text,
                                absl::string_view what) {
  const google::protobuf::FieldDescriptor* descriptor = message.FindFieldByName(std::string(field));
  if (descriptor == nullptr || !CheckSupportedField(*descriptor).ok()) return absl::OkStatus();
  // Keys are singular (the registry refuses a repeated key_field), so only a filter meets this.
  absl::Status single = CheckFilterField(*descriptor);
  if (!single.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", single.message()));
  absl::Status parsed = ParseFieldText(*descriptor, text).status();
  if (parsed.ok()) return parsed;
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", parsed.message()));
}

}  // namespace ndx::gateway
