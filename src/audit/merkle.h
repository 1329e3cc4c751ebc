#ifndef NDX_AUDIT_MERKLE_H_
#define NDX_AUDIT_MERKLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "audit/proof_verifier.h"

namespace ndx::audit {

// One node to store: the hash of the perfect subtree at (level, index), which covers the leaves
// [index << level, (index + 1) << level). Level 0 holds the leaf hashes.
struct NodeWrite {
  int level = 0;
  uint64_t index = 0;
  Hash hash{};
};

// Where the hashes of the tree's perfect subtrees live. Nodes are written once, in append order,
// and never change; a tree of n leaves holds 2n - popcount(n) of them.
// Implementations must let Get run concurrently with Get and with Put of other nodes.
class HashStore {
 public:
  virtual ~HashStore() = default;
  // The hash at (level, index); kNotFound if it was never written.
  virtual absl::StatusOr<Hash> Get(int level, uint64_t index) const = 0;
  // Writes all `nodes` or none (one write batch per append).
  virtual absl::Status Put(absl::Span<const NodeWrite> nodes) = 0;
};

// A HashStore in memory, for tests and for verifiers that rebuild a tree from exported entries.
// Each level is dense: Put rejects (kInvalidArgument) a node beyond the end of its level, which
// append order never produces. Thread-safe.
class InMemoryHashStore : public HashStore {
 public:
  absl::StatusOr<Hash> Get(int level, uint64_t index) const override;
  absl::Status Put(absl::Span<const NodeWrite> nodes) override;

 private:
  mutable absl::Mutex mutex_;
  // levels_[level][index]: nodes arrive in append order, so each level is a dense array.
  std::vector<std::vector<Hash>> levels_ ABSL_GUARDED_BY(mutex_);
};

// The RFC 9162 Merkle tree of the audit log, over a HashStore that holds every perfect subtree.
// The hash of any other subtree is composed from the perfect subtrees of its size's binary
// decomposition, so Root and both proofs read O(log n) nodes for any past size, and Append
// computes each new node once (amortized O(1) per leaf, one Put per call) from the right border
// of the tree, which it keeps in memory.
// Thread-compatible: const methods may run concurrently with each other; Append needs exclusive
// access. The store is not owned and must outlive the tree.
class MerkleTree {
 public:
  // The tree of `size` leaves whose nodes `store` already holds (0 for a new tree). Reads the
  // O(log n) nodes of the right border; kDataLoss if one is missing.
  static absl::StatusOr<MerkleTree> Open(HashStore* store, uint64_t size);

  uint64_t size() const { return size_; }

  // Appends one leaf per entry (leaf hash = LeafHash(entry)) with a single Put of the leaves and
  // of every perfect subtree they complete. On failure the tree and the store are unchanged.
  absl::Status Append(absl::Span<const std::string> entries);
  // The same with leaf hashes computed by the caller.
  absl::Status AppendLeafHashes(absl::Span<const Hash> leaf_hashes);

  // The root of the tree made of the first `size` leaves, for any size <= size().
  absl::StatusOr<Hash> Root(uint64_t size) const;
  // PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf side first; index < size <= size().
  absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size) const;
  // PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1; old_size <= new_size <= size(). Empty when
  // old_size is 0 or equals new_size.
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size) const;

 private:
  MerkleTree(HashStore* store, uint64_t size, std::vector<Hash> border)
      : store_(store), size_(size), border_(std::move(border)) {}

  absl::Status CheckSize(uint64_t size) const;
  // The stored node; a missing one is kDataLoss (the store lost part of the tree).
  absl::StatusOr<Hash> Node(int level, uint64_t index) const;
  // MTH(D[begin:end]) composed from the perfect subtrees of end - begin, right to left.
  // REQUIRES: begin < end <= size_ and begin is a multiple of the largest power of two
  // <= end - begin, as every subtree of the RFC's recursion is.
  absl::StatusOr<Hash> RangeHash(uint64_t begin, uint64_t end) const;

  HashStore* store_;
  uint64_t size_;
  // Hashes of the perfect subtrees of size_'s binary decomposition, largest (leftmost) first.
  std::vector<Hash> border_;
};

}  // namespace ndx::audit

#endif  // NDX_AUDIT_MERKLE_H_
