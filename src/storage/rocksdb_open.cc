#include "storage/rocksdb_open.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace ndx::storage {

rocksdb::Options DefaultOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.keep_log_file_num = 4;
  return options;
}

absl::StatusOr<std::unique_ptr<rocksdb::DB>> Open(const rocksdb::Options& options,
                                                  const std::string& dir, absl::string_view what) {
  if (absl::Status made = MakePrivateDirectory(dir); !made.ok()) {
    return absl::Status(made.code(), absl::StrCat("the ", what, ": ", made.message()));
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(options, dir, &raw);
  if (!status.ok()) {
    if (status.IsIOError() && absl::StrContains(status.ToString(), "lock")) {
      return absl::UnavailableError(
          absl::StrCat(what, " ", dir, " is in use by another process (", status.ToString(), ")"));
    }
    return absl::InternalError(
        absl::StrCat("cannot open the ", what, " ", dir, ": ", status.ToString()));
  }
  return std::unique_ptr<rocksdb::DB>(raw);
}

}  // namespace ndx::storage
