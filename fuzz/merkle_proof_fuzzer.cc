// Proofs of the audit log: an auditor checks inclusion and consistency proofs that a gateway it
// does not trust sends. The verifier (proof_verifier.h) is checked against the tree that makes
// the proofs (merkle.h), written separately on purpose:
//   - every proof the tree makes verifies;
//   - a proof, leaf or root with one bit changed does not;
//   - arbitrary indexes, sizes and hashes never crash nor verify against a tree's real root.
//
// Input: the number of leaves and a salt for their contents, which proofs to ask for, the bit to
// flip, then hashes for the arbitrary proof.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "audit/merkle.h"
#include "audit/proof_verifier.h"
#include "fuzz_check.h"
#include "fuzz_input.h"

namespace {

using ndx::audit::Hash;

void Flip(Hash& hash, uint8_t bit) { hash[bit / 8 % hash.size()] ^= 1 << (bit % 8); }

// The proof with one bit of one of its hashes flipped.
std::vector<Hash> Altered(std::vector<Hash> proof, uint8_t which, uint8_t bit) {
  Flip(proof[which % proof.size()], bit);
  return proof;
}

void CheckInclusion(const ndx::audit::MerkleTree& tree, const std::vector<Hash>& leaves,
                    uint64_t index, uint64_t size, uint8_t which, uint8_t bit) {
  absl::StatusOr<std::vector<Hash>> proof = tree.InclusionProof(index, size);
  absl::StatusOr<Hash> root = tree.Root(size);
  NDX_FUZZ_CHECK(proof.ok() && root.ok(), "the tree proves any leaf of any of its sizes");
  NDX_FUZZ_CHECK(ndx::audit::VerifyInclusion(leaves[index], index, size, *proof, *root).ok(),
                 "an inclusion proof made by the tree verifies");
  Hash other_leaf = leaves[index];
  Flip(other_leaf, bit);
  NDX_FUZZ_CHECK(!ndx::audit::VerifyInclusion(other_leaf, index, size, *proof, *root).ok(),
                 "another leaf is not proved included");
  Hash other_root = *root;
  Flip(other_root, bit);
  NDX_FUZZ_CHECK(!ndx::audit::VerifyInclusion(leaves[index], index, size, *proof, other_root).ok(),
                 "a leaf is not proved included under another root");
  if (!proof->empty()) {
    NDX_FUZZ_CHECK(
        !ndx::audit::VerifyInclusion(leaves[index], index, size, Altered(*proof, which, bit), *root)
             .ok(),
        "an altered inclusion proof does not verify");
    std::vector<Hash> shorter(proof->begin(), proof->end() - 1);
    NDX_FUZZ_CHECK(!ndx::audit::VerifyInclusion(leaves[index], index, size, shorter, *root).ok(),
                   "a truncated inclusion proof does not verify");
  }
  std::vector<Hash> longer = *proof;
  longer.push_back(*root);
  NDX_FUZZ_CHECK(!ndx::audit::VerifyInclusion(leaves[index], index, size, longer, *root).ok(),
                 "an inclusion proof with a hash too many does not verify");
}

void CheckConsistency(const ndx::audit::MerkleTree& tree, uint64_t old_size, uint64_t new_size,
                      uint8_t which, uint8_t bit) {
  absl::StatusOr<std::vector<Hash>> proof = tree.ConsistencyProof(old_size, new_size);
  absl::StatusOr<Hash> old_root = tree.Root(old_size);
  absl::StatusOr<Hash> new_root = tree.Root(new_size);
  NDX_FUZZ_CHECK(proof.ok() && old_root.ok() && new_root.ok(),
                 "the tree proves the consistency of any two of its sizes");
  NDX_FUZZ_CHECK(
      ndx::audit::VerifyConsistency(old_size, new_size, *old_root, *new_root, *proof).ok(),
      "a consistency proof made by the tree verifies");
  if (old_size == new_size || old_size == 0) return;
  // Past an empty tree or between equal sizes there is nothing to prove: the roots alone decide.
  Hash other_old = *old_root;
  Flip(other_old, bit);
  NDX_FUZZ_CHECK(
      !ndx::audit::VerifyConsistency(old_size, new_size, other_old, *new_root, *proof).ok(),
      "another old root is not proved consistent");
  Hash other_new = *new_root;
  Flip(other_new, bit);
  NDX_FUZZ_CHECK(
      !ndx::audit::VerifyConsistency(old_size, new_size, *old_root, other_new, *proof).ok(),
      "another new root is not proved consistent");
  NDX_FUZZ_CHECK(!ndx::audit::VerifyConsistency(old_size, new_size, *old_root, *new_root,
                                                Altered(*proof, which, bit))
                      .ok(),
                 "an altered consistency proof does not verify");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ndx::fuzz::FuzzInput input(data, size);
  const uint64_t leaf_count = 1 + input.TakeBelow(200);
  const uint8_t salt = input.TakeByte();
  ndx::audit::InMemoryHashStore store;
  absl::StatusOr<ndx::audit::MerkleTree> tree = ndx::audit::MerkleTree::Open(&store, 0);
  NDX_FUZZ_CHECK(tree.ok(), "an empty tree opens");
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < leaf_count; ++i) {
    leaves.push_back(ndx::audit::LeafHash(absl::StrCat("entry ", i, " ", salt)));
  }
  NDX_FUZZ_CHECK(tree->AppendLeafHashes(leaves).ok(), "leaves are appended");

  const uint64_t tree_size = 1 + input.TakeBelow(leaf_count);
  const uint64_t index = input.TakeBelow(tree_size);
  const uint64_t old_size = input.TakeBelow(tree_size + 1);
  const uint8_t which = input.TakeByte();
  const uint8_t bit = input.TakeByte();
  CheckInclusion(*tree, leaves, index, tree_size, which, bit);
  CheckConsistency(*tree, old_size, tree_size, which, bit);

  // Arbitrary claims against the real root of the whole tree: whatever the numbers, nothing but
  // the tree's own proof verifies, and nothing crashes.
  const uint64_t claimed_index = input.TakeBelow(UINT64_MAX);
  const uint64_t claimed_size =
      input.TakeByte() % 2 == 0 ? input.TakeBelow(UINT64_MAX) : input.TakeBelow(2 * leaf_count + 2);
  std::vector<Hash> hashes;
  while (!input.empty() && hashes.size() < 70) {
    Hash hash{};
    for (uint8_t& byte : hash) byte = input.TakeByte();
    hashes.push_back(hash);
  }
  absl::StatusOr<Hash> root = tree->Root(leaf_count);
  NDX_FUZZ_CHECK(root.ok(), "the tree has a root");
  const uint64_t position = claimed_index % leaf_count;
  const Hash leaf = leaves[position];
  absl::Status inclusion =
      ndx::audit::VerifyInclusion(leaf, claimed_index, claimed_size, hashes, *root);
  if (inclusion.ok()) {
    // The claimed index and size may differ from the real ones (a size is bound by the signed
    // checkpoint, not by the proof), but the hashes can only be the leaf's real path.
    absl::StatusOr<std::vector<Hash>> real = tree->InclusionProof(position, leaf_count);
    NDX_FUZZ_CHECK(real.ok() && *real == hashes,
                   "only the leaf's real path verifies against the tree's root");
  } else {
    NDX_FUZZ_CHECK(inclusion.code() == absl::StatusCode::kInvalidArgument ||
                       inclusion.code() == absl::StatusCode::kDataLoss,
                   "a refused inclusion proof is kInvalidArgument or kDataLoss");
  }
  absl::Status consistency =
      ndx::audit::VerifyConsistency(claimed_index, claimed_size, leaf, *root, hashes);
  NDX_FUZZ_CHECK(consistency.ok() || consistency.code() == absl::StatusCode::kInvalidArgument ||
                     consistency.code() == absl::StatusCode::kDataLoss,
                 "a refused consistency proof is kInvalidArgument or kDataLoss");
  return 0;
}
