#ifndef NDX_REGISTRY_ROCKSDB_REGISTRY_H_
#define NDX_REGISTRY_ROCKSDB_REGISTRY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "registry/registry.h"

namespace ndx::registry {

// Opens (creating if needed) the registry stored in the RocksDB database at `dir` and loads it
// into a first snapshot. `dir` and what it holds are made private to the service user (see
// storage::Open). kUnavailable naming the directory when another process holds it open.
absl::StatusOr<std::unique_ptr<Registry>> OpenRocksDbRegistry(const std::string& dir);

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_ROCKSDB_REGISTRY_H_
