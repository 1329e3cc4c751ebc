#include "registry/snapshot_impl.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ndx::registry::internal {
namespace {

// The grants of `old` (which may be null) but `id`.
std::vector<std::shared_ptr<const v1::Grant>> GrantsWithout(const GrantSet* old,
                                                            absl::string_view id) {
  std::vector<std::shared_ptr<const v1::Grant>> grants;
  if (old == nullptr) return grants;
  grants.reserve(old->owned().size() + 1);
  for (const std::shared_ptr<const v1::Grant>& grant : old->owned()) {
    if (grant->id() != id) grants.push_back(grant);
  }
  return grants;
}

template <typename T>
bool ById(const T* a, const T* b) {
  return a->id() < b->id();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const DatasetEntry>> MakeDatasetEntry(const v1::Dataset& dataset) {
  auto entry = std::make_shared<DatasetEntry>();
  entry->dataset = dataset;
  absl::StatusOr<std::shared_ptr<const Schema>> schema = Schema::Load(dataset.schema());
  if (!schema.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset ", dataset.id(), ": ", schema.status().message()));
  }
  entry->schema = *std::move(schema);
  absl::StatusOr<const google::protobuf::Descriptor*> descriptor =
      entry->schema->FindMessage(dataset.message_type());
  if (!descriptor.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset ", dataset.id(), ": ", descriptor.status().message()));
  }
  entry->descriptor = *descriptor;
  entry->field_numbers.reserve(entry->descriptor->field_count());
  for (int i = 0; i < entry->descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = entry->descriptor->field(i);
    entry->field_numbers.emplace(field->name(), field->number());
  }
  return std::shared_ptr<const DatasetEntry>(std::move(entry));
}

std::shared_ptr<const SnapshotImpl> SnapshotImpl::Build(
    uint64_t revision, std::vector<std::shared_ptr<const v1::Node>> nodes,
    std::vector<std::shared_ptr<const DatasetEntry>> datasets,
    std::vector<std::shared_ptr<const v1::Grant>> grants) {
  absl::flat_hash_map<GrantPair, std::vector<std::shared_ptr<const v1::Grant>>> pairs;
  for (const std::shared_ptr<const v1::Grant>& grant : grants) {
    pairs[GrantPair(grant->consumer(), grant->dataset())].push_back(grant);
  }
  std::vector<std::shared_ptr<const GrantSet>> finished;
  finished.reserve(pairs.size());
  for (auto& [pair, list] : pairs) {
    finished.push_back(GrantSet::Make(pair.first, pair.second, std::move(list)));
  }
  return std::shared_ptr<const SnapshotImpl>(new SnapshotImpl(
      revision, NodeMap::FromValues(std::move(nodes)), DatasetMap::FromValues(std::move(datasets)),
      GrantMap::FromValues(std::move(grants)), GrantIndex::FromValues(std::move(finished))));
}

std::shared_ptr<const SnapshotImpl> SnapshotImpl::WithNode(std::shared_ptr<const v1::Node> node,
                                                           uint64_t revision) const {
  return std::shared_ptr<const SnapshotImpl>(
      new SnapshotImpl(revision, nodes_.With(std::move(node)), datasets_, grants_, grant_index_));
}

std::shared_ptr<const SnapshotImpl> SnapshotImpl::WithDataset(
    std::shared_ptr<const DatasetEntry> entry, uint64_t revision) const {
  return std::shared_ptr<const SnapshotImpl>(
      new SnapshotImpl(revision, nodes_, datasets_.With(std::move(entry)), grants_, grant_index_));
}

std::shared_ptr<const SnapshotImpl> SnapshotImpl::WithGrant(std::shared_ptr<const v1::Grant> grant,
                                                            uint64_t revision) const {
  GrantIndex index = grant_index_;
  const v1::Grant* old = grants_.Find(grant->id());
  // A stored grant never changes pair through RegistryAdmin, but the store allows it: then the
  // grant leaves its old pair's list.
  if (old != nullptr &&
      (old->consumer() != grant->consumer() || old->dataset() != grant->dataset())) {
    GrantPair old_pair(old->consumer(), old->dataset());
    std::vector<std::shared_ptr<const v1::Grant>> rest =
        GrantsWithout(index.Find(old_pair), old->id());
    if (rest.empty()) {
      index = index.Without(old_pair);
    } else {
      index = index.With(GrantSet::Make(old->consumer(), old->dataset(), std::move(rest)));
    }
  }
  std::vector<std::shared_ptr<const v1::Grant>> list =
      GrantsWithout(index.Find(GrantPair(grant->consumer(), grant->dataset())), grant->id());
  list.push_back(grant);
  index = index.With(GrantSet::Make(grant->consumer(), grant->dataset(), std::move(list)));
  return std::shared_ptr<const SnapshotImpl>(new SnapshotImpl(
      revision, nodes_, datasets_, grants_.With(std::move(grant)), std::move(index)));
}

std::vector<const v1::Node*> SnapshotImpl::Nodes() const {
  std::vector<const v1::Node*> nodes;
  nodes.reserve(nodes_.size());
  nodes_.ForEach([&nodes](const v1::Node& node) { nodes.push_back(&node); });
  std::sort(nodes.begin(), nodes.end(), ById<v1::Node>);
  return nodes;
}

std::vector<const DatasetEntry*> SnapshotImpl::Datasets() const {
  std::vector<const DatasetEntry*> datasets;
  datasets.reserve(datasets_.size());
  datasets_.ForEach([&datasets](const DatasetEntry& entry) { datasets.push_back(&entry); });
  std::sort(datasets.begin(), datasets.end(), [](const DatasetEntry* a, const DatasetEntry* b) {
    return a->dataset.id() < b->dataset.id();
  });
  return datasets;
}

std::vector<const v1::Grant*> SnapshotImpl::Grants() const {
  std::vector<const v1::Grant*> grants;
  grants.reserve(grants_.size());
  grants_.ForEach([&grants](const v1::Grant& grant) { grants.push_back(&grant); });
  std::sort(grants.begin(), grants.end(), ById<v1::Grant>);
  return grants;
}

}  // namespace ndx::registry::internal
