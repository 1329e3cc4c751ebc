#include "audit/merkle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "audit/proof_verifier.h"
#include "crypto/hash.h"
#include "testing/status_matchers.h"
#include "unit/audit/rfc6962_test_data.h"

namespace ndx::audit {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;

Hash Flip(Hash hash) {
  hash[31] ^= 0x01;
  return hash;
}

// ceil(log2(n)) for n >= 1.
int CeilLog2(uint64_t n) { return std::bit_width(n - 1); }

// --- A reference written straight from the recursive definitions of RFC 9162 §2.1, hashing with
// crypto::Sha256 itself: slow (O(n) per call) and independent of the code under test.

Hash RefLeaf(absl::string_view entry) {
  return crypto::Sha256({absl::string_view("\0", 1), entry});
}
Hash RefNode(const Hash& left, const Hash& right) {
  return crypto::Sha256(
      {absl::string_view("\1", 1), crypto::AsBytes(left), crypto::AsBytes(right)});
}
uint64_t RefSplit(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
using Leaves = absl::Span<const Hash>;
Hash RefMth(Leaves d) {
  if (d.empty()) return crypto::Sha256("");
  if (d.size() == 1) return d[0];
  const uint64_t k = RefSplit(d.size());
  return RefNode(RefMth(d.subspan(0, k)), RefMth(d.subspan(k)));
}
std::vector<Hash> RefPath(uint64_t m, Leaves d) {
  if (d.size() == 1) return {};
  const uint64_t k = RefSplit(d.size());
  std::vector<Hash> path = m < k ? RefPath(m, d.subspan(0, k)) : RefPath(m - k, d.subspan(k));
  path.push_back(m < k ? RefMth(d.subspan(k)) : RefMth(d.subspan(0, k)));
  return path;
}
std::vector<Hash> RefSubproof(uint64_t m, Leaves d, bool b) {
  if (m == d.size()) return b ? std::vector<Hash>{} : std::vector<Hash>{RefMth(d)};
  const uint64_t k = RefSplit(d.size());
  std::vector<Hash> proof =
      m <= k ? RefSubproof(m, d.subspan(0, k), b) : RefSubproof(m - k, d.subspan(k), false);
  proof.push_back(m <= k ? RefMth(d.subspan(k)) : RefMth(d.subspan(0, k)));
  return proof;
}

// Counts the reads and writes that reach the wrapped store.
class CountingHashStore : public HashStore {
 public:
  absl::StatusOr<Hash> Get(int level, uint64_t index) const override {
    ++gets;
    return store.Get(level, index);
  }
  absl::Status Put(absl::Span<const NodeWrite> nodes) override {
    ++puts;
    writes += nodes.size();
    if (fail_puts) return absl::UnavailableError("disk on fire");
    return store.Put(nodes);
  }

  InMemoryHashStore store;
  mutable int gets = 0;
  int puts = 0;
  uint64_t writes = 0;
  bool fail_puts = false;
};

MerkleTree NewTree(HashStore* store) {
  absl::StatusOr<MerkleTree> tree = MerkleTree::Open(store, 0);
  EXPECT_THAT(tree, IsOk());
  return *std::move(tree);
}

// Published inclusion and consistency proofs: transparency-dev/merkle, proof/verify_test.go
// (`inclusionProofs`, 1-based leaf numbers there, and `consistencyProofs`).
class PublishedVectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string& hex : kLeafHex) {
      ASSERT_THAT(tree_.Append({absl::HexStringToBytes(hex)}), IsOk());
      ASSERT_THAT(tree_.Root(tree_.size()), IsOk());
      EXPECT_EQ(*tree_.Root(tree_.size()), FromHex(kRootHex[tree_.size()]));
    }
  }
  InMemoryHashStore store_;
  MerkleTree tree_ = NewTree(&store_);
};

TEST_F(PublishedVectorsTest, RootsOfEveryPastSize) {
  for (uint64_t size = 0; size <= 8; ++size) {
    absl::StatusOr<Hash> root = tree_.Root(size);
    ASSERT_THAT(root, IsOk());
    EXPECT_EQ(crypto::ToHex(*root), kRootHex[size]) << "size " << size;
  }
}

TEST_F(PublishedVectorsTest, InclusionProofs) {
  struct Vector {
    uint64_t index, size;
    std::vector<std::string> proof;
  };
  const std::vector<Vector> vectors = {
      {0, 1, {}},
      {0,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5,
       8,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
      {1,
       5,
       {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  for (const Vector& v : vectors) {
    absl::StatusOr<std::vector<Hash>> proof = tree_.InclusionProof(v.index, v.size);
    ASSERT_THAT(proof, IsOk());
    EXPECT_THAT(*proof, ElementsAreArray(FromHex(v.proof))) << v.index << " in " << v.size;
  }
}

TEST_F(PublishedVectorsTest, ConsistencyProofs) {
  struct Vector {
    uint64_t old_size, new_size;
    std::vector<std::string> proof;
  };
  const std::vector<Vector> vectors = {
      {1, 1, {}},
      {1,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {6,
       8,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2,
       5,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
      {6,
       7,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  };
  for (const Vector& v : vectors) {
    absl::StatusOr<std::vector<Hash>> proof = tree_.ConsistencyProof(v.old_size, v.new_size);
    ASSERT_THAT(proof, IsOk());
    EXPECT_THAT(*proof, ElementsAreArray(FromHex(v.proof))) << v.old_size << " -> " << v.new_size;
  }
}

// Which stored nodes make up each proof, from transparency-dev/merkle, proof/proof_test.go
// (TestInclusion and TestConsistency). An element listing several nodes is their fold from the
// right, NodeHash(a, NodeHash(b, c)): a subtree that is not perfect.
struct NodeId {
  int level;
  uint64_t index;
};
using ProofShape = std::vector<std::vector<NodeId>>;

Hash ShapeHash(const HashStore& store, const std::vector<NodeId>& parts) {
  Hash hash = *store.Get(parts.back().level, parts.back().index);
  for (auto it = parts.rbegin() + 1; it != parts.rend(); ++it) {
    hash = NodeHash(*store.Get(it->level, it->index), hash);
  }
  return hash;
}

TEST(MerkleTreeTest, ProofsAreMadeOfThePublishedNodes) {
  InMemoryHashStore store;
  MerkleTree tree = NewTree(&store);
  std::vector<std::string> entries;
  for (int i = 0; i < 95; ++i) entries.push_back(absl::StrCat("entry ", i));
  ASSERT_THAT(tree.Append(entries), IsOk());

  struct Case {
    uint64_t a, b;  // (index, size) or (old_size, new_size)
    ProofShape shape;
  };
  const std::vector<Case> inclusion = {
      {0, 1, {}},
      {0, 2, {{{0, 1}}}},
      {1, 2, {{{0, 0}}}},
      {1, 3, {{{0, 0}}, {{0, 2}}}},
      {0, 7, {{{0, 1}}, {{1, 1}}, {{1, 2}, {0, 6}}}},
      {4, 7, {{{0, 5}}, {{0, 6}}, {{2, 0}}}},
      {5, 7, {{{0, 4}}, {{0, 6}}, {{2, 0}}}},
      {6, 7, {{{1, 2}}, {{2, 0}}}},
      {2, 4, {{{0, 3}}, {{1, 0}}}},
      {3, 5, {{{0, 2}}, {{1, 0}}, {{0, 4}}}},
      {3, 6, {{{0, 2}}, {{1, 0}}, {{1, 2}}}},
      {4, 6, {{{0, 5}}, {{2, 0}}}},
      {10, 15, {{{0, 11}}, {{1, 4}}, {{1, 6}, {0, 14}}, {{3, 0}}}},
      {24, 31, {{{0, 25}}, {{1, 13}}, {{1, 14}, {0, 30}}, {{3, 2}}, {{4, 0}}}},
      {81, 95, {{{0, 80}}, {{1, 41}}, {{2, 21}}, {{2, 22}, {1, 46}, {0, 94}}, {{4, 4}}, {{6, 0}}}},
  };
  const std::vector<Case> consistency = {
      {1, 2, {{{0, 1}}}},
      {1, 4, {{{0, 1}}, {{1, 1}}}},
      {1, 6, {{{0, 1}}, {{1, 1}}, {{1, 2}}}},
      {2, 3, {{{0, 2}}}},
      {2, 8, {{{1, 1}}, {{2, 1}}}},
      {3, 7, {{{0, 2}}, {{0, 3}}, {{1, 0}}, {{1, 2}, {0, 6}}}},
      {4, 7, {{{1, 2}, {0, 6}}}},
      {5, 7, {{{0, 4}}, {{0, 5}}, {{0, 6}}, {{2, 0}}}},
      {6, 7, {{{1, 2}}, {{0, 6}}, {{2, 0}}}},
      {7, 8, {{{0, 6}}, {{0, 7}}, {{1, 2}}, {{2, 0}}}},
      {2, 4, {{{1, 1}}}},
      {3, 5, {{{0, 2}}, {{0, 3}}, {{1, 0}}, {{0, 4}}}},
      {3, 6, {{{0, 2}}, {{0, 3}}, {{1, 0}}, {{1, 2}}}},
      {4, 6, {{{1, 2}}}},
      {1, 7, {{{0, 1}}, {{1, 1}}, {{1, 2}, {0, 6}}}},
      {10, 15, {{{1, 4}}, {{1, 5}}, {{1, 6}, {0, 14}}, {{3, 0}}}},
      {24, 31, {{{3, 2}}, {{2, 6}, {1, 14}, {0, 30}}, {{4, 0}}}},
      {81,
       95,
       {{{0, 80}},
        {{0, 81}},
        {{1, 41}},
        {{2, 21}},
        {{2, 22}, {1, 46}, {0, 94}},
        {{4, 4}},
        {{6, 0}}}},
  };
  for (const auto& [cases, is_inclusion] :
       {std::pair(&inclusion, true), std::pair(&consistency, false)}) {
    for (const Case& c : *cases) {
      SCOPED_TRACE(::testing::Message()
                   << (is_inclusion ? "inclusion " : "consistency ") << c.a << ", " << c.b);
      absl::StatusOr<std::vector<Hash>> proof =
          is_inclusion ? tree.InclusionProof(c.a, c.b) : tree.ConsistencyProof(c.a, c.b);
      ASSERT_THAT(proof, IsOk());
      std::vector<Hash> want;
      for (const std::vector<NodeId>& parts : c.shape) want.push_back(ShapeHash(store, parts));
      EXPECT_THAT(*proof, ElementsAreArray(want));
    }
  }
}

// --- Properties over random trees, against the reference and the standalone verifier.

class RandomTreeTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kSize = 2000;

  // The tree is built in random batches, so batch boundaries fall everywhere.
  void SetUp() override {
    tree_.emplace(NewTree(&store_));
    while (leaves_.size() < kSize) {
      const uint64_t batch = std::min<uint64_t>(kSize - leaves_.size(), rng_() % 40 + 1);
      std::vector<std::string> entries;
      for (uint64_t i = 0; i < batch; ++i) {
        entries.push_back(absl::StrCat("entry ", leaves_.size() + i, " ", rng_()));
        leaves_.push_back(RefLeaf(entries.back()));
      }
      const int puts = store_.puts;
      const int gets = store_.gets;
      ASSERT_THAT(tree_->Append(entries), IsOk());
      EXPECT_EQ(store_.puts, puts + 1) << "one Put per Append";
      EXPECT_EQ(store_.gets, gets) << "Append reads nothing";
    }
    // Every perfect subtree written exactly once.
    EXPECT_EQ(store_.writes, 2 * kSize - std::popcount(kSize));
  }

  uint64_t Random(uint64_t lo, uint64_t hi) {  // In [lo, hi].
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  Hash RefRoot(uint64_t size) { return RefMth(Leaves(leaves_).subspan(0, size)); }
  Hash Root(uint64_t size) {
    absl::StatusOr<Hash> root = tree_->Root(size);
    EXPECT_THAT(root, IsOk());
    return root.ok() ? *root : Hash{};
  }

  std::mt19937_64 rng_{20240601};
  CountingHashStore store_;
  std::optional<MerkleTree> tree_;
  std::vector<Hash> leaves_;
};

TEST_F(RandomTreeTest, RootOfAnySizeMatchesTheReferenceInLogReads) {
  std::vector<uint64_t> sizes;
  for (uint64_t size = 0; size <= 70; ++size) sizes.push_back(size);
  for (int i = 0; i < 100; ++i) sizes.push_back(Random(71, kSize));
  for (uint64_t size : sizes) {
    store_.gets = 0;
    EXPECT_EQ(Root(size), RefRoot(size)) << "size " << size;
    EXPECT_LE(store_.gets, std::popcount(size)) << "size " << size;
  }
}

TEST_F(RandomTreeTest, InclusionProofsVerifyAndDetectEveryChange) {
  for (int round = 0; round < 1000; ++round) {
    const uint64_t size = Random(1, kSize);
    const uint64_t index = Random(0, size - 1);
    SCOPED_TRACE(::testing::Message() << "index " << index << " size " << size);
    store_.gets = 0;
    absl::StatusOr<std::vector<Hash>> got = tree_->InclusionProof(index, size);
    ASSERT_THAT(got, IsOk());
    const std::vector<Hash>& proof = *got;
    EXPECT_LE(store_.gets, 2 * CeilLog2(size));
    EXPECT_LE(proof.size(), CeilLog2(size));
    EXPECT_EQ(proof, RefPath(index, Leaves(leaves_).subspan(0, size)));

    const Hash root = Root(size);
    const Hash leaf = leaves_[index];
    ASSERT_THAT(VerifyInclusion(leaf, index, size, proof, root), IsOk());
    for (size_t i = 0; i < proof.size(); ++i) {
      std::vector<Hash> bad = proof;
      bad[i] = Flip(bad[i]);
      EXPECT_THAT(VerifyInclusion(leaf, index, size, bad, root), Not(IsOk())) << "hash " << i;
    }
    EXPECT_THAT(VerifyInclusion(Flip(leaf), index, size, proof, root), Not(IsOk()));
    if (size > 1) {
      EXPECT_THAT(VerifyInclusion(leaves_[(index + 1) % size], index, size, proof, root),
                  Not(IsOk()));
    }
    EXPECT_THAT(VerifyInclusion(leaf, index, size, proof, Flip(root)), Not(IsOk()));
    for (uint64_t other : {index - 1, index + 1, index ^ 2}) {
      if (other < size && other != index) {
        EXPECT_THAT(VerifyInclusion(leaf, other, size, proof, root), Not(IsOk())) << other;
      }
    }
    // Another size, with that tree's root. (The size is bound by the signed checkpoint, not by
    // the proof: index 0 has the same path shape in trees of sizes 3 and 4.)
    for (uint64_t other : {size - 1, size + 1, size * 2, size / 2}) {
      if (other > index && other <= kSize && other != size) {
        EXPECT_THAT(VerifyInclusion(leaf, index, other, proof, Root(other)), Not(IsOk())) << other;
      }
    }
  }
}

TEST_F(RandomTreeTest, ConsistencyProofsVerifyAndDetectEveryChange) {
  for (int round = 0; round < 1000; ++round) {
    const uint64_t new_size = Random(1, kSize);
    const uint64_t old_size = round % 10 == 0 ? Random(0, 2) : Random(1, new_size);
    if (old_size > new_size) continue;
    SCOPED_TRACE(::testing::Message() << old_size << " -> " << new_size);
    store_.gets = 0;
    absl::StatusOr<std::vector<Hash>> got = tree_->ConsistencyProof(old_size, new_size);
    ASSERT_THAT(got, IsOk());
    const std::vector<Hash>& proof = *got;
    EXPECT_LE(store_.gets, 2 * CeilLog2(new_size) + 1);
    EXPECT_LE(proof.size(), CeilLog2(new_size) + 1);
    if (old_size > 0) {
      EXPECT_EQ(proof, RefSubproof(old_size, Leaves(leaves_).subspan(0, new_size), true));
    }

    const Hash old_root = Root(old_size);
    const Hash new_root = Root(new_size);
    ASSERT_THAT(VerifyConsistency(old_size, new_size, old_root, new_root, proof), IsOk());
    if (old_size == 0 || old_size == new_size) {
      EXPECT_TRUE(proof.empty());
      continue;
    }
    for (size_t i = 0; i < proof.size(); ++i) {
      std::vector<Hash> bad = proof;
      bad[i] = Flip(bad[i]);
      EXPECT_THAT(VerifyConsistency(old_size, new_size, old_root, new_root, bad), Not(IsOk()))
          << "hash " << i;
    }
    EXPECT_THAT(VerifyConsistency(old_size, new_size, Flip(old_root), new_root, proof),
                Not(IsOk()));
    EXPECT_THAT(VerifyConsistency(old_size, new_size, old_root, Flip(new_root), proof),
                Not(IsOk()));
    EXPECT_THAT(VerifyConsistency(old_size, new_size, new_root, old_root, proof), Not(IsOk()));
    for (uint64_t other : {old_size - 1, old_size + 1, old_size / 2, old_size ^ 4}) {
      if (other <= new_size && other != old_size) {
        EXPECT_THAT(VerifyConsistency(other, new_size, Root(other), new_root, proof), Not(IsOk()))
            << "old size " << other;
      }
    }
    for (uint64_t other : {new_size - 1, new_size + 1, new_size * 2}) {
      if (other >= old_size && other <= kSize && other != new_size) {
        EXPECT_THAT(VerifyConsistency(old_size, other, old_root, Root(other), proof), Not(IsOk()))
            << "new size " << other;
      }
    }
    std::vector<Hash> longer = proof;
    longer.push_back(new_root);
    EXPECT_THAT(VerifyConsistency(old_size, new_size, old_root, new_root, longer),
                StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(VerifyConsistency(old_size, new_size, old_root, new_root,
                                  absl::MakeConstSpan(proof).subspan(1)),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST_F(RandomTreeTest, ReopenedTreeContinuesTheSameHistory) {
  // Reopen at a past size and append the same leaves again: the same tree.
  absl::StatusOr<MerkleTree> reopened = MerkleTree::Open(&store_, 1234);
  ASSERT_THAT(reopened, IsOk());
  EXPECT_EQ(*reopened->Root(1234), RefRoot(1234));
  EXPECT_LE(store_.gets, 64);
  ASSERT_THAT(reopened->AppendLeafHashes(Leaves(leaves_).subspan(1234)), IsOk());
  EXPECT_EQ(reopened->size(), kSize);
  EXPECT_EQ(*reopened->Root(kSize), RefRoot(kSize));
  EXPECT_EQ(*reopened->Root(777), RefRoot(777));
}

TEST(MerkleTreeTest, LargeTreeSparseChecks) {
  CountingHashStore store;
  MerkleTree tree = NewTree(&store);
  constexpr uint64_t kSize = (uint64_t{1} << 18) + 4321;
  std::vector<Hash> leaves;
  leaves.reserve(kSize);
  for (uint64_t i = 0; i < kSize; ++i) leaves.push_back(RefLeaf(absl::StrCat("entry ", i)));
  ASSERT_THAT(tree.AppendLeafHashes(leaves), IsOk());
  EXPECT_EQ(store.puts, 1);
  EXPECT_EQ(*tree.Root(kSize), RefMth(leaves));
  std::mt19937_64 rng(7);
  for (int round = 0; round < 50; ++round) {
    const uint64_t size = rng() % kSize + 1;
    const uint64_t index = rng() % size;
    const uint64_t old_size = rng() % size + 1;
    store.gets = 0;
    absl::StatusOr<Hash> root = tree.Root(size);
    absl::StatusOr<Hash> old_root = tree.Root(old_size);
    absl::StatusOr<std::vector<Hash>> inclusion = tree.InclusionProof(index, size);
    absl::StatusOr<std::vector<Hash>> consistency = tree.ConsistencyProof(old_size, size);
    ASSERT_THAT(root, IsOk());
    ASSERT_THAT(old_root, IsOk());
    ASSERT_THAT(inclusion, IsOk());
    ASSERT_THAT(consistency, IsOk());
    // Two roots and two proofs, each within its own O(log n) bound.
    EXPECT_LE(store.gets, 2 * 64 + 2 * CeilLog2(size) + 2 * CeilLog2(size) + 1);
    EXPECT_THAT(VerifyInclusion(leaves[index], index, size, *inclusion, *root), IsOk());
    EXPECT_THAT(VerifyConsistency(old_size, size, *old_root, *root, *consistency), IsOk());
  }
}

// A tree of about a trillion identical leaves, whose perfect subtrees at one level all share a
// hash: sizes far beyond memory, with the reference still computable by the RFC's recursion.
class UniformHashStore : public HashStore {
 public:
  explicit UniformHashStore(uint64_t capacity) : capacity_(capacity) {
    level_hash_.push_back(RefLeaf("same"));
    for (int level = 1; level < 64; ++level) {
      level_hash_.push_back(RefNode(level_hash_.back(), level_hash_.back()));
    }
  }
  absl::StatusOr<Hash> Get(int level, uint64_t index) const override {
    ++gets;
    if (index >= (capacity_ >> level)) return absl::NotFoundError("beyond capacity");
    return level_hash_[level];
  }
  absl::Status Put(absl::Span<const NodeWrite> nodes) override {
    for (const NodeWrite& node : nodes) {
      if (node.hash != level_hash_[node.level]) return absl::DataLossError("wrong node hash");
      if (node.level == 0) capacity_ = std::max(capacity_, node.index + 1);
    }
    return absl::OkStatus();
  }
  const Hash& LevelHash(int level) const { return level_hash_[level]; }

  // The RFC's definitions, for n identical leaves.
  Hash RefRoot(uint64_t n) const {
    if (std::has_single_bit(n)) return level_hash_[std::countr_zero(n)];
    const uint64_t k = RefSplit(n);
    return RefNode(level_hash_[std::countr_zero(k)], RefRoot(n - k));
  }
  std::vector<Hash> RefPath(uint64_t m, uint64_t n) const {
    if (n == 1) return {};
    const uint64_t k = RefSplit(n);
    std::vector<Hash> path = m < k ? RefPath(m, k) : RefPath(m - k, n - k);
    path.push_back(m < k ? RefRoot(n - k) : RefRoot(k));
    return path;
  }
  std::vector<Hash> RefSubproof(uint64_t m, uint64_t n, bool b) const {
    if (m == n) return b ? std::vector<Hash>{} : std::vector<Hash>{RefRoot(n)};
    const uint64_t k = RefSplit(n);
    std::vector<Hash> proof = m <= k ? RefSubproof(m, k, b) : RefSubproof(m - k, n - k, false);
    proof.push_back(m <= k ? RefRoot(n - k) : RefRoot(k));
    return proof;
  }

  mutable int gets = 0;

 private:
  uint64_t capacity_;
  std::vector<Hash> level_hash_;
};

TEST(MerkleTreeTest, HugeSparseTreeNeedsLogReads) {
  constexpr uint64_t kSize = (uint64_t{1} << 40) + 0x123456789;
  UniformHashStore store(kSize);
  absl::StatusOr<MerkleTree> opened = MerkleTree::Open(&store, kSize);
  ASSERT_THAT(opened, IsOk());
  MerkleTree& tree = *opened;
  EXPECT_LE(store.gets, 41);
  // Appends at this size write the right nodes (the store checks each hash).
  ASSERT_THAT(tree.Append(std::vector<std::string>(1000, "same")), IsOk());
  const uint64_t size = tree.size();
  std::mt19937_64 rng(99);
  for (int round = 0; round < 100; ++round) {
    const uint64_t n = size - rng() % 5000;
    const uint64_t index = rng() % n;
    const uint64_t old_size = rng() % n + 1;
    SCOPED_TRACE(::testing::Message() << index << ", " << old_size << ", " << n);
    store.gets = 0;
    absl::StatusOr<Hash> root = tree.Root(n);
    ASSERT_THAT(root, IsOk());
    EXPECT_EQ(*root, store.RefRoot(n));
    EXPECT_LE(store.gets, std::popcount(n));

    store.gets = 0;
    absl::StatusOr<std::vector<Hash>> inclusion = tree.InclusionProof(index, n);
    ASSERT_THAT(inclusion, IsOk());
    EXPECT_LE(store.gets, 2 * CeilLog2(n));
    EXPECT_LE(inclusion->size(), CeilLog2(n));
    EXPECT_EQ(*inclusion, store.RefPath(index, n));
    EXPECT_THAT(VerifyInclusion(store.LevelHash(0), index, n, *inclusion, *root), IsOk());

    store.gets = 0;
    absl::StatusOr<std::vector<Hash>> consistency = tree.ConsistencyProof(old_size, n);
    ASSERT_THAT(consistency, IsOk());
    EXPECT_LE(store.gets, 2 * CeilLog2(n) + 1);
    EXPECT_LE(consistency->size(), CeilLog2(n) + 1);
    EXPECT_EQ(*consistency, store.RefSubproof(old_size, n, true));
    EXPECT_THAT(VerifyConsistency(old_size, n, store.RefRoot(old_size), *root, *consistency),
                IsOk());
  }
}

TEST(MerkleTreeTest, BadArgumentsAreRefused) {
  InMemoryHashStore store;
  MerkleTree tree = NewTree(&store);
  EXPECT_EQ(*tree.Root(0), EmptyRoot());
  ASSERT_THAT(tree.Append({"a", "b", "c"}), IsOk());
  EXPECT_THAT(tree.Root(4), StatusIs(absl::StatusCode::kOutOfRange,
                                     HasSubstr("tree size 4 is beyond the 3 leaves")));
  EXPECT_THAT(tree.InclusionProof(3, 3),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("leaf index 3 is not in a tree of size 3")));
  EXPECT_THAT(tree.InclusionProof(0, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(tree.InclusionProof(0, 4), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(tree.ConsistencyProof(3, 2),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("old tree size 3 is larger than new tree size 2")));
  EXPECT_THAT(tree.ConsistencyProof(1, 4), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(*tree.ConsistencyProof(0, 3), ::testing::IsEmpty());
  EXPECT_THAT(*tree.ConsistencyProof(3, 3), ::testing::IsEmpty());
  EXPECT_THAT(MerkleTree::Open(nullptr, 0), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MerkleTreeTest, MissingNodesAreDataLoss) {
  InMemoryHashStore empty;
  EXPECT_THAT(MerkleTree::Open(&empty, 5),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("lacks the node at level 2, index 0 of a tree of size 5")));
}

TEST(MerkleTreeTest, FailedPutLeavesTheTreeUnchanged) {
  CountingHashStore store;
  MerkleTree tree = NewTree(&store);
  ASSERT_THAT(tree.Append({"a", "b", "c"}), IsOk());
  store.fail_puts = true;
  EXPECT_THAT(tree.Append({"lost"}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("disk on fire")));
  EXPECT_EQ(tree.size(), 3);
  store.fail_puts = false;
  ASSERT_THAT(tree.Append({"d"}), IsOk());
  EXPECT_EQ(*tree.Root(4),
            RefMth(std::vector<Hash>{RefLeaf("a"), RefLeaf("b"), RefLeaf("c"), RefLeaf("d")}));
}

TEST(InMemoryHashStoreTest, RefusesGapsAndWritesBatchesWhole) {
  InMemoryHashStore store;
  const Hash h = RefLeaf("x");
  EXPECT_THAT(store.Put({{0, 0, h}, {0, 2, h}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("leaves a gap")));
  EXPECT_THAT(store.Get(0, 0), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store.Put({{-1, 0, h}}), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(store.Put({{0, 0, h}, {0, 1, h}, {1, 0, h}}), IsOk());
  EXPECT_EQ(*store.Get(1, 0), h);
}

}  // namespace
}  // namespace ndx::audit
