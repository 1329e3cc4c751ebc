#include "registry/schema_fields.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ndx::registry::internal {
namespace {

using google::protobuf::FieldDescriptor;

std::string ElementTypeName(const FieldDescriptor* field) {
  switch (field->type()) {
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP:
      return field->message_type()->full_name();
    case FieldDescriptor::TYPE_ENUM:
      return field->enum_type()->full_name();
    default:
      return field->type_name();
  }
}

}  // namespace

std::vector<const FieldDescriptor*> FieldsByNumber(const google::protobuf::Descriptor* message) {
  std::vector<const FieldDescriptor*> fields;
  fields.reserve(message->field_count());
  for (int i = 0; i < message->field_count(); ++i) fields.push_back(message->field(i));
  std::sort(fields.begin(), fields.end(), [](const FieldDescriptor* a, const FieldDescriptor* b) {
    return a->number() < b->number();
  });
  return fields;
}

std::string FieldNameList(const google::protobuf::Descriptor* message) {
  return absl::StrJoin(
      FieldsByNumber(message), ", ",
      [](std::string* out, const FieldDescriptor* field) { absl::StrAppend(out, field->name()); });
}

std::string FieldTypeName(const FieldDescriptor* field) {
  if (field->is_map()) {
    return absl::StrCat("map<", ElementTypeName(field->message_type()->map_key()), ", ",
                        ElementTypeName(field->message_type()->map_value()), ">");
  }
  if (field->is_repeated()) return absl::StrCat("repeated ", ElementTypeName(field));
  return ElementTypeName(field);
}

}  // namespace ndx::registry::internal
