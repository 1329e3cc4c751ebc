#ifndef NDX_REGISTRY_SNAPSHOT_H_
#define NDX_REGISTRY_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/schema.h"
#include "ndx/v1/registry.pb.h"
#include "registry/grant_set.h"

namespace ndx::registry {

// A dataset as the request path needs it: the registered record plus lookups derived from its
// schema once, when the snapshot is built.
struct DatasetEntry {
  v1::Dataset dataset;
  std::shared_ptr<const Schema> schema;
  const google::protobuf::Descriptor* descriptor = nullptr;  // owned by `schema`
  // Field name -> field number, for every top-level field of the message type.
  absl::flat_hash_map<std::string, int> field_numbers;
};

// An immutable view of the whole registry at one revision. Readers on the hot path hold a
// shared_ptr to it for the length of a request; no lock is taken. Thread-safe (immutable).
class Snapshot {
 public:
  virtual ~Snapshot() = default;

  // Increases by one on every committed change; 0 for an empty registry.
  virtual uint64_t revision() const = 0;

  // nullptr when absent.
  virtual const v1::Node* FindNode(absl::string_view id) const = 0;
  virtual const DatasetEntry* FindDataset(absl::string_view id) const = 0;
  virtual const v1::Grant* FindGrant(absl::string_view id) const = 0;

  // Every grant (any state) of `consumer` on `dataset`; nullptr when there is none.
  virtual const GrantSet* FindGrantSet(absl::string_view consumer,
                                       absl::string_view dataset) const = 0;
  // The same grants, oldest first.
  absl::Span<const v1::Grant* const> GrantsFor(absl::string_view consumer,
                                               absl::string_view dataset) const {
    const GrantSet* set = FindGrantSet(consumer, dataset);
    return set == nullptr ? absl::Span<const v1::Grant* const>() : set->grants();
  }

  // Everything, sorted by id, for listing.
  virtual std::vector<const v1::Node*> Nodes() const = 0;
  virtual std::vector<const DatasetEntry*> Datasets() const = 0;
  virtual std::vector<const v1::Grant*> Grants() const = 0;
};

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_SNAPSHOT_H_
