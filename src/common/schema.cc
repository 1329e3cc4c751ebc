#include "common/schema.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/compiler/parser.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace ndx {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;
using google::protobuf::FileDescriptorProto;
using google::protobuf::FileDescriptorSet;

// Keeps the first parse error with its position; later ones are mostly consequences of it.
class ParseErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit ParseErrors(const std::string& file_name) : file_name_(file_name) {}
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty())
      first_ = absl::StrCat(file_name_, ":", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string file_name_;
  std::string first_;
};

// Errors found while building descriptors (unknown types, duplicate numbers). The builder names
// the element; `locations`, when the parser filled one, turns it into a line and column.
class BuildErrors : public DescriptorPool::ErrorCollector {
 public:
  explicit BuildErrors(const google::protobuf::compiler::SourceLocationTable* locations = nullptr)
      : locations_(locations) {}
  void AddError(const std::string& filename, const std::string& element_name,
                const google::protobuf::Message* descriptor, ErrorLocation location,
                const std::string& message) override {
    if (!first_.empty()) return;
    int line = -1;
    int column = 0;
    if (locations_ != nullptr && locations_->Find(descriptor, location, &line, &column)) {
      first_ = absl::StrCat(filename, ":", line + 1, ":", column + 1, ": ", message);
    } else {
      first_ = absl::StrCat(filename, ": ", element_name, ": ", message);
    }
  }
  const std::string& first() const { return first_; }

 private:
  const google::protobuf::compiler::SourceLocationTable* locations_;
  std::string first_;
};

void AddWithDependencies(const FileDescriptor* file, FileDescriptorSet* out,
                         std::vector<const FileDescriptor*>* seen) {
  for (const FileDescriptor* done : *seen) {
    if (done == file) return;
  }
  seen->push_back(file);
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddWithDependencies(file->dependency(i), out, seen);
  }
  file->CopyTo(out->add_file());
}

}  // namespace

absl::StatusOr<FileDescriptorSet> CompileProtoFile(const std::string& file_name,
                                                   const std::string& source) {
  if (file_name.empty() || absl::StartsWith(file_name, "google/protobuf/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("proto file name \"", file_name, "\" is empty or reserved"));
  }
  google::protobuf::io::ArrayInputStream input(source.data(), static_cast<int>(source.size()));
  ParseErrors parse_errors(file_name);
  google::protobuf::io::Tokenizer tokenizer(&input, &parse_errors);
  google::protobuf::compiler::Parser parser;
  google::protobuf::compiler::SourceLocationTable locations;
  parser.RecordErrorsTo(&parse_errors);
  parser.RecordSourceLocationsTo(&locations);
  FileDescriptorProto file;
  if (!parser.Parse(&tokenizer, &file) || !parse_errors.first().empty()) {
    return absl::InvalidArgumentError(parse_errors.first().empty()
                                          ? absl::StrCat(file_name, ": cannot parse")
                                          : parse_errors.first());
  }
  file.set_name(file_name);
  for (const std::string& dependency : file.dependency()) {
    if (!absl::StartsWith(dependency, "google/protobuf/")) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_name, ": import \"", dependency,
                       "\" is not allowed: a schema is one file that imports only "
                       "google/protobuf/*.proto"));
    }
  }
  // The generated pool holds the well-known types this binary links; an underlay makes them
  // importable without shipping their sources.
  DescriptorPool pool(DescriptorPool::generated_pool());
  for (const std::string& dependency : file.dependency()) {
    if (DescriptorPool::generated_pool()->FindFileByName(dependency) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_name, ": import \"", dependency, "\" is not a known well-known type"));
    }
  }
  BuildErrors build_errors(&locations);
  const FileDescriptor* built = pool.BuildFileCollectingErrors(file, &build_errors);
  if (built == nullptr) return absl::InvalidArgumentError(build_errors.first());
  FileDescriptorSet set;
  std::vector<const FileDescriptor*> seen;
  AddWithDependencies(built, &set, &seen);
  return set;
}

absl::StatusOr<std::shared_ptr<const Schema>> Schema::Load(const FileDescriptorSet& file_set) {
  std::shared_ptr<Schema> schema(new Schema());
  BuildErrors errors;
  for (const FileDescriptorProto& file : file_set.file()) {
    if (schema->pool_.FindFileByName(file.name()) != nullptr) continue;
    if (schema->pool_.BuildFileCollectingErrors(file, &errors) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("invalid schema: ", errors.first()));
    }
  }
  return std::shared_ptr<const Schema>(std::move(schema));
}

absl::StatusOr<const google::protobuf::Descriptor*> Schema::FindMessage(
    const std::string& full_name) const {
  const google::protobuf::Descriptor* descriptor = pool_.FindMessageTypeByName(full_name);
  if (descriptor == nullptr) {
    return absl::NotFoundError(absl::StrCat("schema has no message type \"", full_name, "\""));
  }
  return descriptor;
}

std::unique_ptr<google::protobuf::Message> Schema::NewMessage(
    const google::protobuf::Descriptor* descriptor) const {
  return std::unique_ptr<google::protobuf::Message>(factory_.GetPrototype(descriptor)->New());
}

}  // namespace ndx
