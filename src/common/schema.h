#ifndef NDX_COMMON_SCHEMA_H_
#define NDX_COMMON_SCHEMA_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"

namespace ndx {

// Compiles one .proto file given as text into a self-contained FileDescriptorSet (the file and the
// google/protobuf/*.proto files it imports). Any other import is refused. Errors are
// kInvalidArgument and name the file, line and column, e.g. "birth.proto:7:3: Expected \";\".".
absl::StatusOr<google::protobuf::FileDescriptorSet> CompileProtoFile(const std::string& file_name,
                                                                     const std::string& source);

// A schema loaded from a FileDescriptorSet: a descriptor pool and a factory for dynamic messages
// of its types. Immutable after Load; thread-safe.
class Schema {
 public:
  static absl::StatusOr<std::shared_ptr<const Schema>> Load(
      const google::protobuf::FileDescriptorSet& file_set);

  // kNotFound naming the type when the schema has no such message.
  absl::StatusOr<const google::protobuf::Descriptor*> FindMessage(
      const std::string& full_name) const;
  // A new, empty message of the type; REQUIRES: `descriptor` belongs to this schema.
  std::unique_ptr<google::protobuf::Message> NewMessage(
      const google::protobuf::Descriptor* descriptor) const;

 private:
  Schema() = default;
  google::protobuf::DescriptorPool pool_;
  mutable google::protobuf::DynamicMessageFactory factory_{&pool_};
};

}  // namespace ndx

#endif  // NDX_COMMON_SCHEMA_H_
