#include "adapters/backend.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace ndx::adapters {

const FieldBinding* Binding::FindField(absl::string_view name) const {
  for (const FieldBinding& binding : fields) {
    if (binding.field->name() == name) return &binding;
  }
  return nullptr;
}

absl::StatusOr<std::vector<const FieldBinding*>> Binding::SelectFields(
    const std::vector<std::string>& names) const {
  std::vector<const FieldBinding*> selected;
  if (names.empty()) {
    for (const FieldBinding& binding : fields) selected.push_back(&binding);
    return selected;
  }
  for (const std::string& name : names) {
    const FieldBinding* binding = FindField(name);
    if (binding == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("dataset ", dataset, " (",
                                                     message->full_name(), ") has no field \"",
                                                     absl::CHexEscape(name), "\""));
    }
    if (std::find(selected.begin(), selected.end(), binding) == selected.end()) {
      selected.push_back(binding);
    }
  }
  // Declaration order keeps the SQL text, and so the prepared statement, the same for any order
  // the caller lists its fields in.
  std::sort(selected.begin(), selected.end());
  return selected;
}

absl::StatusOr<FieldValue> ParseKey(const Binding& binding, absl::string_view key) {
  absl::StatusOr<FieldValue> value = ParseFieldText(*binding.key().field, key);
  if (!value.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("key: ", value.status().message()));
  }
  return value;
}

absl::StatusOr<ParsedFilter> ParseFilter(const Binding& binding, const FieldFilter& filter) {
  const FieldBinding* field = binding.FindField(filter.field);
  if (field == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter: dataset ", binding.dataset, " (", binding.message->full_name(),
                     ") has no field \"", absl::CHexEscape(filter.field), "\""));
  }
  if (absl::Status single = CheckFilterField(*field->field); !single.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("filter: ", single.message()));
  }
  absl::StatusOr<FieldValue> value = ParseFieldText(*field->field, filter.value);
  if (!value.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("filter: ", value.status().message()));
  }
  return ParsedFilter{field, *std::move(value)};
}

absl::StatusOr<size_t> PageRows(int page_size) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat("page_size is ", page_size,
                                                   "; give 0 for the default (", kDefaultPageSize,
                                                   ") or 1 to ", kMaxPageSize));
  }
  return static_cast<size_t>(page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize));
}

std::string QuoteIdentifier(absl::string_view identifier) {
  // Validated identifiers hold no quote: the common case is one concatenation.
  if (!absl::StrContains(identifier, '"')) return absl::StrCat("\"", identifier, "\"");
  return absl::StrCat("\"", absl::StrReplaceAll(identifier, {{"\"", "\"\""}}), "\"");
}

namespace {

absl::Status ColumnError(const Binding& binding, const FieldBinding& field,
                         const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("dataset ", binding.dataset, ": column \"", field.column,
                                   "\" of table \"", binding.table, "\": ", status.message()));
}

// The record through a message of the schema's type, for selections with a oneof member: the
// message keeps only the member set last, whatever was set before.
absl::StatusOr<std::string> BuildRecordByReflection(
    const Binding& binding, const std::vector<const FieldBinding*>& selected,
    absl::FunctionRef<absl::StatusOr<std::optional<SqlValue>>(size_t)> value_of) {
  std::unique_ptr<google::protobuf::Message> message = binding.schema->NewMessage(binding.message);
  for (size_t i = 0; i < selected.size(); ++i) {
    absl::StatusOr<std::optional<SqlValue>> value = value_of(i);
    absl::Status status = value.status();
    if (status.ok() && value->has_value()) {
      status = SetFieldFromSql(*selected[i]->field, **value, message.get());
    }
    if (!status.ok()) return ColumnError(binding, *selected[i], status);
  }
  std::string record;
  // Partial: a proto2 schema's required fields may legitimately be NULL in the database.
  if (!message->SerializePartialToString(&record)) {
    return absl::InternalError(
        absl::StrCat("dataset ", binding.dataset, ": cannot serialize a record"));
  }
  return record;
}

}  // namespace

absl::StatusOr<std::string> BuildRecord(
    const Binding& binding, const std::vector<const FieldBinding*>& selected,
    absl::FunctionRef<absl::StatusOr<std::optional<SqlValue>>(size_t)> value_of) {
  for (const FieldBinding* field : selected) {
    if (field->field->real_containing_oneof() != nullptr) {
      return BuildRecordByReflection(binding, selected, value_of);
    }
  }
  // Written straight to the wire format: the same bytes as through a message, without one.
  RecordWriter record;
  for (size_t i = 0; i < selected.size(); ++i) {
    absl::StatusOr<std::optional<SqlValue>> value = value_of(i);
    absl::Status status = value.status();
    if (status.ok() && value->has_value()) status = record.Add(*selected[i]->field, **value);
    if (!status.ok()) return ColumnError(binding, *selected[i], status);
  }
  return std::move(record).Finish();
}

}  // namespace ndx::adapters
