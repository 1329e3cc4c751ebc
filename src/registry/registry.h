#ifndef NDX_REGISTRY_REGISTRY_H_
#define NDX_REGISTRY_REGISTRY_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
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

  // Inserts or replaces by id, as decided on the snapshot of `read_revision`. Return the new
  // revision. A registry that other writers share (etcd) refuses with kAborted a write to a record
  // that changed after `read_revision`, so that two concurrent changes cannot both win; a registry
  // with one writer applies it. A dataset whose schema does not load is kInvalidArgument; a
  // storage failure is kInternal or kUnavailable (and nothing changes).
  virtual absl::StatusOr<uint64_t> PutNodeAsOf(const v1::Node& node, uint64_t read_revision) = 0;
  virtual absl::StatusOr<uint64_t> PutDatasetAsOf(const v1::Dataset& dataset,
                                                  uint64_t read_revision) = 0;
  // A grant that names no operation is stored with DefaultOperations().
  virtual absl::StatusOr<uint64_t> PutGrantAsOf(const v1::Grant& grant, uint64_t read_revision) = 0;

  // The writes above as of the current snapshot.
  absl::StatusOr<uint64_t> PutNode(const v1::Node& node) {
    return PutNodeAsOf(node, snapshot()->revision());
  }
  absl::StatusOr<uint64_t> PutDataset(const v1::Dataset& dataset) {
    return PutDatasetAsOf(dataset, snapshot()->revision());
  }
  absl::StatusOr<uint64_t> PutGrant(const v1::Grant& grant) {
    return PutGrantAsOf(grant, snapshot()->revision());
  }

  // OK while decisions may be taken on snapshot(). A replica whose source of truth is elsewhere
  // answers kUnavailable once it has not been able to confirm its snapshot current for longer
  // than its staleness bound, so that no change made elsewhere (a revocation) goes unenforced
  // past that bound. Cheap: called on every request.
  virtual absl::Status CheckFresh() const { return absl::OkStatus(); }
};

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_REGISTRY_H_
