#include "common/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace ndx {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  int err = errno;
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

// "0644": permission bits the way chmod takes them.
std::string ModeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

constexpr mode_t kGroupOrOthers = S_IRWXG | S_IRWXO;

absl::Status CheckPrivateMode(const std::string& path, mode_t mode) {
  if ((mode & kGroupOrOthers) == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("key file ", path, " has mode ", ModeText(mode),
                                                    " and is open to group or others; run: "
                                                    "chmod 600 ",
                                                    path));
}

// Closes a descriptor on every return path.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  const int fd_;
};

// mkdir -p with mode 0700 for every directory it makes. mkdir's mode passes through the umask,
// which may take more than group and others away; chmod makes it exactly 0700.
absl::Status CreateDirectories(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0) {
    if (errno == EEXIST) return absl::OkStatus();
    if (errno != ENOENT) return ErrnoError("cannot create directory", path);
    std::string parent = std::filesystem::path(path).parent_path().string();
    if (parent.empty() || parent == path) {
      return absl::NotFoundError(absl::StrCat("cannot create directory ", path, ": no parent"));
    }
    NDX_RETURN_IF_ERROR(CreateDirectories(parent));
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoError("cannot create directory", path);
    }
  }
  if (::chmod(path.c_str(), 0700) != 0) return ErrnoError("cannot set the mode of", path);
  return absl::OkStatus();
}

// Takes group's and others' bits (and set-id and sticky bits) off `path`, and says so.
absl::Status Restrict(const std::string& path, mode_t mode) {
  const mode_t tightened = mode & S_IRWXU;
  if (::chmod(path.c_str(), tightened) != 0) return ErrnoError("cannot tighten the mode of", path);
  spdlog::warn("{} had mode {}, open to group or others; changed it to {}", path, ModeText(mode),
               ModeText(tightened));
  return absl::OkStatus();
}

// Tightens the directory `dir` (whose lstat is `st`) and what it holds, as MakePrivateDirectory
// describes. The directory is closed before its entries are read, so that nobody else can swap
// an entry for a symbolic link between its lstat and its chmod.
absl::Status TightenTree(const std::string& dir, const struct stat& st) {
  const bool was_open = (st.st_mode & kGroupOrOthers) != 0;
  if (was_open) NDX_RETURN_IF_ERROR(Restrict(dir, st.st_mode));
  DIR* stream = ::opendir(dir.c_str());
  if (stream == nullptr) return ErrnoError("cannot list", dir);
  std::unique_ptr<DIR, int (*)(DIR*)> closer(stream, ::closedir);
  while (true) {
    errno = 0;
    const struct dirent* entry = ::readdir(stream);
    if (entry == nullptr) {
      if (errno != 0) return ErrnoError("cannot list", dir);
      return absl::OkStatus();
    }
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const std::string child = absl::StrCat(dir, "/", name);
    struct stat child_st;
    if (::lstat(child.c_str(), &child_st) != 0) {
      // A RocksDB file deleted since readdir is no longer there to tighten.
      if (errno == ENOENT) continue;
      return ErrnoError("cannot stat", child);
    }
    if (S_ISLNK(child_st.st_mode)) continue;  // what it points to is not ours to change
    if (S_ISDIR(child_st.st_mode)) {
      NDX_RETURN_IF_ERROR(TightenTree(child, child_st));
    } else if (was_open && (child_st.st_mode & kGroupOrOthers) != 0) {
      NDX_RETURN_IF_ERROR(Restrict(child, child_st.st_mode));
    }
  }
}

// Collects the first text-format error with its position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty())
      error_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("cannot open", path);
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return ErrnoError("cannot read", path);
  return out.str();
}

absl::Status CheckPrivateFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("cannot stat key file", path);
  return CheckPrivateMode(path, st.st_mode);
}

absl::StatusOr<std::string> ReadPrivateFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError("cannot stat key file", path);
  NDX_RETURN_IF_ERROR(CheckPrivateMode(path, st.st_mode));
  std::string content;
  char buffer[16384];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read", path);
    if (n == 0) return content;
    content.append(buffer, static_cast<size_t>(n));
  }
}

absl::Status MakePrivateDirectory(const std::string& path) {
  std::string dir = path;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty()) return absl::InvalidArgumentError("a private directory needs a path");
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoError("cannot stat", dir);
    NDX_RETURN_IF_ERROR(CreateDirectories(dir));
    if (::stat(dir.c_str(), &st) != 0) return ErrnoError("cannot stat", dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " exists and is not a directory"));
  }
  return TightenTree(dir, st);
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view content, int mode) {
  std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  // The umask may have narrowed the mode; fchmod sets it exactly.
  bool ok = ::fchmod(fd, mode) == 0;
  size_t written = 0;
  while (ok && written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) written += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  absl::Status status = ok ? absl::OkStatus() : ErrnoError("cannot write", tmp);
  ::close(fd);
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoError("cannot rename to", path);
  }
  if (!status.ok()) ::unlink(tmp.c_str());
  return status;
}

absl::Status LoadTextProto(const std::string& path, google::protobuf::Message* message) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseTextProto(*text, path, message);
}

absl::Status ParseTextProto(absl::string_view text, absl::string_view origin,
                            google::protobuf::Message* message) {
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), message)) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", errors.error()));
  }
  return absl::OkStatus();
}

std::string ResolvePath(const std::string& path, const std::string& relative_to) {
  if (path.empty() || path.front() == '/') return path;
  return (std::filesystem::path(relative_to).parent_path() / path).lexically_normal().string();
}

}  // namespace ndx
