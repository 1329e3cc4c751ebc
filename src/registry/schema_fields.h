#ifndef NDX_REGISTRY_SCHEMA_FIELDS_H_
#define NDX_REGISTRY_SCHEMA_FIELDS_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"

namespace ndx::registry::internal {

// The top-level fields of `message`, in field-number order (the order records are returned in).
std::vector<const google::protobuf::FieldDescriptor*> FieldsByNumber(
    const google::protobuf::Descriptor* message);

// "a, b, c": the names of FieldsByNumber(message), for error messages that list the valid fields.
std::string FieldNameList(const google::protobuf::Descriptor* message);

// The field's protobuf type as written in a .proto file: "string", "civil.v1.Sex",
// "repeated string", "map<string, int64>".
std::string FieldTypeName(const google::protobuf::FieldDescriptor* field);

}  // namespace ndx::registry::internal

#endif  // NDX_REGISTRY_SCHEMA_FIELDS_H_
