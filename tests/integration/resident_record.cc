#include "integration/resident_record.h"

#include <gtest/gtest.h>

#include <memory>

#include "common/schema.h"
#include "testing/resident_schema.h"

namespace ndx::testing {

std::vector<std::string> ResidentFields(const google::protobuf::Any& record,
                                        std::map<std::string, std::string>* values) {
  static const auto* schema = new std::shared_ptr<const Schema>(
      *Schema::Load(*CompileProtoFile("resident.proto", kResidentProto)));
  const google::protobuf::Descriptor* descriptor =
      *(*schema)->FindMessage("population.v1.Resident");
  EXPECT_EQ(record.type_url(), "type.googleapis.com/population.v1.Resident");
  std::unique_ptr<google::protobuf::Message> message = (*schema)->NewMessage(descriptor);
  EXPECT_TRUE(message->ParseFromString(record.value()));
  EXPECT_EQ(message->GetReflection()->GetUnknownFields(*message).field_count(), 0);
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  message->GetReflection()->ListFields(*message, &fields);
  std::vector<std::string> names;
  for (const auto* field : fields) {
    names.push_back(field->name());
    if (values != nullptr && field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
      (*values)[field->name()] = message->GetReflection()->GetString(*message, field);
    }
  }
  return names;
}

}  // namespace ndx::testing
