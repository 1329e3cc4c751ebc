#ifndef NDX_REGISTRY_REGISTRY_H_
#define NDX_REGISTRY_REGISTRY_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "ndx/v1/registry.pb.h"
#include "registry/snapshot.h"

namespace ndx::registry {

// The store of nodes, datasets and grants. Writes are durable when they return and are visible in
// the snapshot returned by every later call to snapshot(). It validates nothing but storage
// invariants; policy (who may write what, well-formed ids) is RegistryAdmin's.
// Thread-safe: snapshot() is lock-free and may be called from any thread; writes are serialized.
class Registry {
 public:
  virtual ~Registry() = default;

  // The current snapshot; never null.
  virtual std::shared_ptr<const Snapshot> snapshot() const = 0;

  // Inserts or replaces by id. Return the new revision. A dataset whose schema does not load
  // is kInvalidArgument; a storage failure is kInternal (and nothing changes).
  virtual absl::StatusOr<uint64_t> PutNode(const v1::Node& node) = 0;
  virtual absl::StatusOr<uint64_t> PutDataset(const v1::Dataset& dataset) = 0;
  // A grant that names no operation is stored with DefaultOperations().
  virtual absl::StatusOr<uint64_t> PutGrant(const v1::Grant& grant) = 0;
};

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_REGISTRY_H_
