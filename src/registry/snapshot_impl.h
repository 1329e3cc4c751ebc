#ifndef NDX_REGISTRY_SNAPSHOT_IMPL_H_
#define NDX_REGISTRY_SNAPSHOT_IMPL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "registry/persistent_map.h"
#include "registry/snapshot.h"

namespace ndx::registry::internal {

// Loads the dataset's schema and derives the lookups of the request path. kInvalidArgument when
// the schema does not load or lacks the dataset's message type.
absl::StatusOr<std::shared_ptr<const DatasetEntry>> MakeDatasetEntry(const v1::Dataset& dataset);

using GrantPair = std::pair<absl::string_view, absl::string_view>;

struct NodeKey {
  absl::string_view operator()(const v1::Node& node) const { return node.id(); }
};
struct DatasetKey {
  absl::string_view operator()(const DatasetEntry& entry) const { return entry.dataset.id(); }
};
struct GrantKey {
  absl::string_view operator()(const v1::Grant& grant) const { return grant.id(); }
};
struct GrantSetKey {
  GrantPair operator()(const GrantSet& set) const { return {set.consumer(), set.dataset()}; }
};

using NodeMap = PersistentMap<absl::string_view, v1::Node, NodeKey>;
using DatasetMap = PersistentMap<absl::string_view, DatasetEntry, DatasetKey>;
using GrantMap = PersistentMap<absl::string_view, v1::Grant, GrantKey>;
using GrantIndex = PersistentMap<GrantPair, GrantSet, GrantSetKey>;

// The Snapshot of the registry. Each With*() returns the next snapshot with one record inserted
// or replaced; it shares every unchanged node, dataset entry (with its compiled schema) and
// grant with this one, and most of the maps' shards too.
// Thread-safe (immutable).
class SnapshotImpl final : public Snapshot {
 public:
  // An empty registry at revision 0.
  SnapshotImpl() = default;

  // The snapshot of a whole registry, as loaded from storage.
  static std::shared_ptr<const SnapshotImpl> Build(
      uint64_t revision, std::vector<std::shared_ptr<const v1::Node>> nodes,
      std::vector<std::shared_ptr<const DatasetEntry>> datasets,
      std::vector<std::shared_ptr<const v1::Grant>> grants);

  std::shared_ptr<const SnapshotImpl> WithNode(std::shared_ptr<const v1::Node> node,
                                               uint64_t revision) const;
  std::shared_ptr<const SnapshotImpl> WithDataset(std::shared_ptr<const DatasetEntry> entry,
                                                  uint64_t revision) const;
  std::shared_ptr<const SnapshotImpl> WithGrant(std::shared_ptr<const v1::Grant> grant,
                                                uint64_t revision) const;

  uint64_t revision() const override { return revision_; }
  const v1::Node* FindNode(absl::string_view id) const override { return nodes_.Find(id); }
  const DatasetEntry* FindDataset(absl::string_view id) const override {
    return datasets_.Find(id);
  }
  const v1::Grant* FindGrant(absl::string_view id) const override { return grants_.Find(id); }
  const GrantSet* FindGrantSet(absl::string_view consumer,
                               absl::string_view dataset) const override {
    return grant_index_.Find(GrantPair(consumer, dataset));
  }
  std::vector<const v1::Node*> Nodes() const override;
  std::vector<const DatasetEntry*> Datasets() const override;
  std::vector<const v1::Grant*> Grants() const override;

 private:
  SnapshotImpl(uint64_t revision, NodeMap nodes, DatasetMap datasets, GrantMap grants,
               GrantIndex grant_index)
      : revision_(revision),
        nodes_(std::move(nodes)),
        datasets_(std::move(datasets)),
        grants_(std::move(grants)),
        grant_index_(std::move(grant_index)) {}

  uint64_t revision_ = 0;
  NodeMap nodes_;
  DatasetMap datasets_;
  GrantMap grants_;
  // (consumer, dataset) -> its grants, for the authorizer.
  GrantIndex grant_index_;
};

}  // namespace ndx::registry::internal

#endif  // NDX_REGISTRY_SNAPSHOT_IMPL_H_
