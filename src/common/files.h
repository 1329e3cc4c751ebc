#ifndef NDX_COMMON_FILES_H_
#define NDX_COMMON_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace ndx {

absl::StatusOr<std::string> ReadFile(const std::string& path);

// A private key file that group or others may access is a deployment error, refused before the
// key is used: kFailedPrecondition "key file X has mode 0644 and is open to group or others; run:
// chmod 600 X". kNotFound or kPermissionDenied when the file cannot be stat'ed.
absl::Status CheckPrivateFile(const std::string& path);

// ReadFile for a private key: refuses the file as CheckPrivateFile does. The mode checked is the
// one of the file actually read (fstat of the open descriptor), so a file swapped in between the
// check and the read is not read unchecked.
absl::StatusOr<std::string> ReadPrivateFile(const std::string& path);

// Makes `path` a directory that only the service user can enter. A missing `path` is created with
// its missing parents, each 0700. An existing tree is tightened, for data directories made by an
// older version or by hand: every directory under `path` (and `path` itself) open to group or
// others loses those bits, and so does every such file in a directory that was open. A file in a
// directory that was already private is out of others' reach whatever its mode, and is left
// alone: that is how a file made public on purpose (the audit verifier key, 0644) keeps its mode
// instead of being tightened and rewritten at every start. Each change is logged as a warning
// naming the path. Symbolic links inside the tree are not followed. kFailedPrecondition when
// `path` is not a directory; kPermissionDenied, kNotFound or kInternal when a call fails.
absl::Status MakePrivateDirectory(const std::string& path);

// Writes the whole file atomically (temporary file, fsync, rename) with the given mode, so that
// a reader never sees half a key or a world-readable key.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view content, int mode);

// Parses a protobuf text-format file into `message`; errors name the file, line and column.
absl::Status LoadTextProto(const std::string& path, google::protobuf::Message* message);
// The same for a text read already; `origin` names it in errors.
absl::Status ParseTextProto(absl::string_view text, absl::string_view origin,
                            google::protobuf::Message* message);

// `path` unchanged when absolute or empty, else joined to the directory part of `relative_to`.
std::string ResolvePath(const std::string& path, const std::string& relative_to);

}  // namespace ndx

#endif  // NDX_COMMON_FILES_H_
