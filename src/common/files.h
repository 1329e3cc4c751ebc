#ifndef NDX_COMMON_FILES_H_
#define NDX_COMMON_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace ndx {

absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes the whole file atomically (temporary file, fsync, rename) with the given mode, so that
// a reader never sees half a key or a world-readable key.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view content, int mode);

// Parses a protobuf text-format file into `message`; errors name the file, line and column.
absl::Status LoadTextProto(const std::string& path, google::protobuf::Message* message);

// `path` unchanged when absolute or empty, else joined to the directory part of `relative_to`.
std::string ResolvePath(const std::string& path, const std::string& relative_to);

}  // namespace ndx

#endif  // NDX_COMMON_FILES_H_
