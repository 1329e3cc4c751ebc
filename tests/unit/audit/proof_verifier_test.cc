#include "audit/proof_verifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "testing/status_matchers.h"
#include "unit/audit/rfc6962_test_data.h"

namespace ndx::audit {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// Published proofs: transparency-dev/merkle, proof/verify_test.go (`inclusionProofs`,
// `consistencyProofs`), and rfc6962/rfc6962_test.go for the single hashes.
struct InclusionVector {
  uint64_t index;  // 0-based (the Go file lists 1-based leaf numbers).
  uint64_t size;
  std::vector<std::string> proof;
};
const std::vector<InclusionVector> kInclusionVectors = {
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

struct ConsistencyVector {
  uint64_t old_size;
  uint64_t new_size;
  std::vector<std::string> proof;
};
const std::vector<ConsistencyVector> kConsistencyVectors = {
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

Hash PublishedLeafHash(uint64_t index) { return LeafHash(absl::HexStringToBytes(kLeafHex[index])); }
Hash PublishedRoot(uint64_t size) { return FromHex(kRootHex[size]); }

Hash Flip(Hash hash) {
  hash[0] ^= 0x08;
  return hash;
}

TEST(MerkleHashTest, MatchesPublishedHashes) {
  EXPECT_EQ(EmptyRoot(),
            FromHex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_EQ(LeafHash(""),
            FromHex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"));
  EXPECT_EQ(LeafHash("L123456"),
            FromHex("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"));
  // Node hashing against the published root of two leaves.
  EXPECT_EQ(NodeHash(PublishedLeafHash(0), PublishedLeafHash(1)), PublishedRoot(2));
  EXPECT_NE(NodeHash(PublishedLeafHash(1), PublishedLeafHash(0)), PublishedRoot(2));
}

TEST(VerifyInclusionTest, PublishedProofsVerify) {
  for (const InclusionVector& v : kInclusionVectors) {
    SCOPED_TRACE(::testing::Message() << "index " << v.index << " size " << v.size);
    EXPECT_THAT(VerifyInclusion(PublishedLeafHash(v.index), v.index, v.size, FromHex(v.proof),
                                PublishedRoot(v.size)),
                IsOk());
  }
}

TEST(VerifyInclusionTest, TamperedPublishedProofsFail) {
  for (const InclusionVector& v : kInclusionVectors) {
    SCOPED_TRACE(::testing::Message() << "index " << v.index << " size " << v.size);
    const Hash leaf = PublishedLeafHash(v.index);
    const Hash root = PublishedRoot(v.size);
    const std::vector<Hash> proof = FromHex(v.proof);
    for (size_t i = 0; i < proof.size(); ++i) {
      std::vector<Hash> bad = proof;
      bad[i] = Flip(bad[i]);
      EXPECT_THAT(VerifyInclusion(leaf, v.index, v.size, bad, root),
                  StatusIs(absl::StatusCode::kDataLoss, HasSubstr("leads to root")));
    }
    EXPECT_THAT(VerifyInclusion(Flip(leaf), v.index, v.size, proof, root),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(VerifyInclusion(leaf, v.index, v.size, proof, Flip(root)),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(VerifyInclusion(leaf, v.index, v.size, proof, EmptyRoot()),
                StatusIs(absl::StatusCode::kDataLoss));
    if (v.index > 0) {
      EXPECT_THAT(VerifyInclusion(leaf, v.index - 1, v.size, proof, root), Not(IsOk()));
    }
    EXPECT_THAT(VerifyInclusion(leaf, v.index + 1, v.size, proof, root), Not(IsOk()));
    EXPECT_THAT(VerifyInclusion(leaf, v.index, v.size * 2, proof, root), Not(IsOk()));
    if (v.index < v.size / 2) {
      EXPECT_THAT(VerifyInclusion(leaf, v.index, v.size / 2, proof, root), Not(IsOk()));
    }
    std::vector<Hash> longer = proof;
    longer.push_back(root);
    EXPECT_THAT(VerifyInclusion(leaf, v.index, v.size, longer, root),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("has " + std::to_string(proof.size()) + " hashes")));
    EXPECT_THAT(VerifyInclusion(leaf, v.index, v.size,
                                absl::MakeConstSpan(proof).subspan(0, proof.size() - 1), root),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(VerifyInclusionTest, EdgeCases) {
  const Hash leaf = LeafHash("only");
  // A tree of one leaf: the root is the leaf hash and the proof is empty.
  EXPECT_THAT(VerifyInclusion(leaf, 0, 1, {}, leaf), IsOk());
  EXPECT_THAT(VerifyInclusion(leaf, 0, 1, {}, EmptyRoot()), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(VerifyInclusion(leaf, 0, 0, {}, EmptyRoot()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("leaf index 0 is not in a tree of size 0")));
  EXPECT_THAT(VerifyInclusion(leaf, 2, 1, {}, leaf), StatusIs(absl::StatusCode::kInvalidArgument));
  // The largest sizes are walked without overflow: the last leaf of a 2^64 - 1 tree has 63
  // siblings (its level-0 neighbour is missing).
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_THAT(VerifyInclusion(leaf, max - 1, max, {}, leaf),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 63 hashes")));
  EXPECT_THAT(VerifyInclusion(leaf, 0, max, {}, leaf),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 64 hashes")));
}

TEST(VerifyConsistencyTest, PublishedProofsVerify) {
  for (const ConsistencyVector& v : kConsistencyVectors) {
    SCOPED_TRACE(::testing::Message() << v.old_size << " -> " << v.new_size);
    EXPECT_THAT(VerifyConsistency(v.old_size, v.new_size, PublishedRoot(v.old_size),
                                  PublishedRoot(v.new_size), FromHex(v.proof)),
                IsOk());
  }
}

TEST(VerifyConsistencyTest, TamperedPublishedProofsFail) {
  for (const ConsistencyVector& v : kConsistencyVectors) {
    SCOPED_TRACE(::testing::Message() << v.old_size << " -> " << v.new_size);
    const Hash old_root = PublishedRoot(v.old_size);
    const Hash new_root = PublishedRoot(v.new_size);
    const std::vector<Hash> proof = FromHex(v.proof);
    for (size_t i = 0; i < proof.size(); ++i) {
      std::vector<Hash> bad = proof;
      bad[i] = Flip(bad[i]);
      EXPECT_THAT(VerifyConsistency(v.old_size, v.new_size, old_root, new_root, bad),
                  StatusIs(absl::StatusCode::kDataLoss));
    }
    // A power-of-two old tree is a subtree of the new one: its root is checked through the new.
    const bool old_is_subtree = (v.old_size & (v.old_size - 1)) == 0;
    EXPECT_THAT(VerifyConsistency(v.old_size, v.new_size, Flip(old_root), new_root, proof),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr(old_is_subtree ? "complete subtree" : "old root")));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.new_size, old_root, Flip(new_root), proof),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("new root")));
    EXPECT_THAT(VerifyConsistency(v.old_size, v.new_size, new_root, old_root, proof),
                StatusIs(absl::StatusCode::kDataLoss));
    // Another old size, with the published root of that size.
    for (uint64_t old_size : {v.old_size - 1, v.old_size + 1}) {
      if (old_size == 0 || old_size > v.new_size) continue;
      EXPECT_THAT(VerifyConsistency(old_size, v.new_size, PublishedRoot(old_size), new_root, proof),
                  Not(IsOk()))
          << "old size " << old_size;
    }
    EXPECT_THAT(VerifyConsistency(v.old_size, v.new_size, old_root, new_root, {}),
                StatusIs(absl::StatusCode::kInvalidArgument));
    std::vector<Hash> longer = proof;
    longer.push_back(new_root);
    EXPECT_THAT(VerifyConsistency(v.old_size, v.new_size, old_root, new_root, longer),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("has " + std::to_string(proof.size()) + " hashes")));
    std::vector<Hash> preceded = proof;
    preceded.insert(preceded.begin(), old_root);
    EXPECT_THAT(VerifyConsistency(v.old_size, v.new_size, old_root, new_root, preceded),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(VerifyConsistencyTest, EdgeCases) {
  const Hash root1 = PublishedRoot(1);
  const Hash root2 = PublishedRoot(2);
  // Every tree extends the empty one and itself, with an empty proof.
  EXPECT_THAT(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}), IsOk());
  EXPECT_THAT(VerifyConsistency(0, 2, EmptyRoot(), root2, {}), IsOk());
  EXPECT_THAT(VerifyConsistency(2, 2, root2, root2, {}), IsOk());
  EXPECT_THAT(VerifyConsistency(0, 2, root1, root2, {}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not the root of the empty tree")));
  EXPECT_THAT(VerifyConsistency(2, 2, root1, root2, {}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("different roots")));
  EXPECT_THAT(VerifyConsistency(0, 2, EmptyRoot(), root2, {root1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is empty")));
  EXPECT_THAT(VerifyConsistency(2, 2, root2, root2, {root1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(VerifyConsistency(2, 1, root2, root1, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("old tree size 2 is larger than new tree size 1")));
  // 1 -> 2: the proof is the second leaf.
  EXPECT_THAT(VerifyConsistency(1, 2, root1, root2, {PublishedLeafHash(1)}), IsOk());
  EXPECT_THAT(VerifyConsistency(1, 2, root1, root2, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 1 hashes")));
}

}  // namespace
}  // namespace ndx::audit
