#ifndef NDX_STORAGE_ROCKSDB_OPEN_H_
#define NDX_STORAGE_ROCKSDB_OPEN_H_

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ndx::storage {

// What every store starts from: the database is created if missing, and RocksDB keeps 4 of its
// own log files.
rocksdb::Options DefaultOptions();

// Opens the database in `dir` for the store that errors call `what` ("registry database",
// "event store", ...). `dir` is first made private (MakePrivateDirectory: created 0700 with its
// parents, or tightened when an older version left it open to group or others), because RocksDB
// creates it 0755 and its files as the umask allows, and the stores hold records about citizens.
// kUnavailable when another process holds the database, which RocksDB reports as an I/O error on
// its LOCK file and an operator needs said plainly; kInternal for anything else.
absl::StatusOr<std::unique_ptr<rocksdb::DB>> Open(const rocksdb::Options& options,
                                                  const std::string& dir, absl::string_view what);

}  // namespace ndx::storage

#endif  // NDX_STORAGE_ROCKSDB_OPEN_H_
