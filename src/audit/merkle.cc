#include "audit/merkle.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ndx::audit {
namespace {

// A uint64_t has 64 levels of perfect subtrees above its leaves at most.
constexpr int kMaxLevels = 64;

// The k of RFC 9162: the largest power of two smaller than n. REQUIRES: n >= 2.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

}  // namespace

absl::StatusOr<Hash> InMemoryHashStore::Get(int level, uint64_t index) const {
  absl::MutexLock lock(&mutex_);
  if (level < 0 || static_cast<size_t>(level) >= levels_.size() || index >= levels_[level].size()) {
    return absl::NotFoundError(absl::StrCat("no node at level ", level, ", index ", index));
  }
  return levels_[level][index];
}

absl::Status InMemoryHashStore::Put(absl::Span<const NodeWrite> nodes) {
  absl::MutexLock lock(&mutex_);
  // Validate the whole batch first so that a bad one writes nothing.
  std::vector<uint64_t> length(kMaxLevels, 0);
  for (size_t level = 0; level < levels_.size(); ++level) length[level] = levels_[level].size();
  for (const NodeWrite& node : nodes) {
    if (node.level < 0 || node.level >= kMaxLevels) {
      return absl::InvalidArgumentError(
          absl::StrCat("node level ", node.level, " is not in [0, ", kMaxLevels, ")"));
    }
    if (node.index > length[node.level]) {
      return absl::InvalidArgumentError(absl::StrCat("node index ", node.index, " at level ",
                                                     node.level, " leaves a gap: the level has ",
                                                     length[node.level], " nodes"));
    }
    if (node.index == length[node.level]) ++length[node.level];
  }
  for (const NodeWrite& node : nodes) {
    if (static_cast<size_t>(node.level) >= levels_.size()) levels_.resize(node.level + 1);
    std::vector<Hash>& level = levels_[node.level];
    if (node.index == level.size()) {
      level.push_back(node.hash);
    } else {
      level[node.index] = node.hash;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<MerkleTree> MerkleTree::Open(HashStore* store, uint64_t size) {
  if (store == nullptr) return absl::InvalidArgumentError("a Merkle tree needs a hash store");
  MerkleTree tree(store, size, {});
  for (int level = kMaxLevels - 1; level >= 0; --level) {
    if (((size >> level) & 1) == 0) continue;
    NDX_ASSIGN_OR_RETURN(Hash hash, tree.Node(level, (size >> level) - 1));
    tree.border_.push_back(hash);
  }
  return tree;
}

absl::Status MerkleTree::Append(absl::Span<const std::string> entries) {
  std::vector<Hash> leaf_hashes;
  leaf_hashes.reserve(entries.size());
  for (const std::string& entry : entries) leaf_hashes.push_back(LeafHash(entry));
  return AppendLeafHashes(leaf_hashes);
}

absl::Status MerkleTree::AppendLeafHashes(absl::Span<const Hash> leaf_hashes) {
  if (leaf_hashes.empty()) return absl::OkStatus();
  if (leaf_hashes.size() > std::numeric_limits<uint64_t>::max() - size_) {
    return absl::OutOfRangeError(absl::StrCat("appending ", leaf_hashes.size(),
                                              " leaves to a tree of size ", size_,
                                              " overflows the 64-bit tree size"));
  }
  // Work on copies so that a failed Put leaves the tree as it was.
  std::vector<Hash> border = border_;
  uint64_t size = size_;
  std::vector<NodeWrite> writes;
  writes.reserve(2 * leaf_hashes.size() + kMaxLevels);
  for (const Hash& leaf_hash : leaf_hashes) {
    Hash hash = leaf_hash;
    writes.push_back({0, size, hash});
    // Each set low bit of the size is a perfect subtree on the border that this leaf completes
    // into one twice as large.
    int level = 0;
    while (((size >> level) & 1) != 0) {
      hash = NodeHash(border.back(), hash);
      border.pop_back();
      ++level;
      writes.push_back({level, size >> level, hash});
    }
    border.push_back(hash);
    ++size;
  }
  NDX_RETURN_IF_ERROR(store_->Put(writes));
  size_ = size;
  border_ = std::move(border);
  return absl::OkStatus();
}

absl::StatusOr<Hash> MerkleTree::Root(uint64_t size) const {
  NDX_RETURN_IF_ERROR(CheckSize(size));
  if (size == 0) return EmptyRoot();
  if (size == size_) {
    // The current root needs no read: it folds the border kept in memory.
    Hash hash = border_.back();
    for (auto it = border_.rbegin() + 1; it != border_.rend(); ++it) hash = NodeHash(*it, hash);
    return hash;
  }
  return RangeHash(0, size);
}

absl::StatusOr<std::vector<Hash>> MerkleTree::InclusionProof(uint64_t index, uint64_t size) const {
  NDX_RETURN_IF_ERROR(CheckSize(size));
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", index, " is not in a tree of size ", size));
  }
  // Descend from the root to the leaf, taking the sibling of each subtree entered. At most one
  // sibling is not perfect (the right one taken on leaving the right border), so this reads
  // O(log n) nodes.
  std::vector<Hash> proof;
  uint64_t begin = 0;
  uint64_t end = size;
  while (end - begin > 1) {
    const uint64_t k = SplitPoint(end - begin);
    if (index < begin + k) {
      NDX_ASSIGN_OR_RETURN(Hash sibling, RangeHash(begin + k, end));
      proof.push_back(sibling);
      end = begin + k;
    } else {
      NDX_ASSIGN_OR_RETURN(Hash sibling, RangeHash(begin, begin + k));
      proof.push_back(sibling);
      begin += k;
    }
  }
  // The RFC lists the path from the leaf up.
  std::reverse(proof.begin(), proof.end());
  return proof;
}

absl::StatusOr<std::vector<Hash>> MerkleTree::ConsistencyProof(uint64_t old_size,
                                                               uint64_t new_size) const {
  NDX_RETURN_IF_ERROR(CheckSize(new_size));
  if (old_size > new_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("old tree size ", old_size, " is larger than new tree size ", new_size));
  }
  std::vector<Hash> proof;
  if (old_size == 0 || old_size == new_size) return proof;
  // SUBPROOF(m, D[begin:end], b) unrolled: descend until the subtree at hand is the old tree's
  // last part. b stays true while that part is the whole old tree, whose root the verifier has.
  uint64_t begin = 0;
  uint64_t end = new_size;
  bool old_root_known = true;
  while (end != old_size) {
    const uint64_t k = SplitPoint(end - begin);
    if (old_size <= begin + k) {
      NDX_ASSIGN_OR_RETURN(Hash right, RangeHash(begin + k, end));
      proof.push_back(right);
      end = begin + k;
    } else {
      NDX_ASSIGN_OR_RETURN(Hash left, RangeHash(begin, begin + k));
      proof.push_back(left);
      begin += k;
      old_root_known = false;
    }
  }
  if (!old_root_known) {
    NDX_ASSIGN_OR_RETURN(Hash last_part, RangeHash(begin, end));
    proof.push_back(last_part);
  }
  std::reverse(proof.begin(), proof.end());
  return proof;
}

absl::Status MerkleTree::CheckSize(uint64_t size) const {
  if (size > size_) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", size, " is beyond the ", size_, " leaves appended so far"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Hash> MerkleTree::Node(int level, uint64_t index) const {
  absl::StatusOr<Hash> hash = store_->Get(level, index);
  if (absl::IsNotFound(hash.status())) {
    return absl::DataLossError(absl::StrCat("the hash store lacks the node at level ", level,
                                            ", index ", index, " of a tree of size ", size_, ": ",
                                            hash.status().message()));
  }
  return hash;
}

absl::StatusOr<Hash> MerkleTree::RangeHash(uint64_t begin, uint64_t end) const {
  const uint64_t n = end - begin;
  Hash hash{};
  bool first = true;
  for (int level = 0; level < kMaxLevels && (n >> level) != 0; ++level) {
    if (((n >> level) & 1) == 0) continue;
    // The part for this bit starts after the larger parts, those of n's higher bits.
    const uint64_t start = begin + (((n >> level) - 1) << level);
    NDX_ASSIGN_OR_RETURN(Hash part, Node(level, start >> level));
    hash = first ? part : NodeHash(part, hash);
    first = false;
  }
  return hash;
}

}  // namespace ndx::audit
