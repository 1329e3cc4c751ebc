#include "audit/proof_verifier.h"

#include "absl/strings/str_cat.h"

namespace ndx::audit {
namespace {

using crypto::AsBytes;
using crypto::ToHex;

// The RFC 9162 verification loops walk from a leaf up to the root with fn = the leaf's index and
// sn = the index of the tree's last leaf, consuming one proof hash per step. This counts the
// steps, so that a proof of the wrong length is reported as malformed before any hashing.
uint64_t PathLength(uint64_t fn, uint64_t sn) {
  uint64_t length = 0;
  for (; sn != 0; ++length) {
    // A last node with no right sibling is promoted unchanged: those levels take no hash.
    if ((fn & 1) == 0 && fn == sn) {
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    }
    fn >>= 1;
    sn >>= 1;
  }
  return length;
}

}  // namespace

Hash LeafHash(absl::string_view entry) {
  return crypto::Sha256({absl::string_view("\0", 1), entry});
}

Hash NodeHash(const Hash& left, const Hash& right) {
  return crypto::Sha256({absl::string_view("\1", 1), AsBytes(left), AsBytes(right)});
}

Hash EmptyRoot() { return crypto::Sha256(absl::string_view()); }

absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t index, uint64_t size,
                             absl::Span<const Hash> proof, const Hash& root) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", index, " is not in a tree of size ", size));
  }
  if (const uint64_t want = PathLength(index, size - 1); proof.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat("an inclusion proof of leaf ", index,
                                                   " in a tree of size ", size, " has ", want,
                                                   " hashes, this one has ", proof.size()));
  }
  // RFC 9162 §2.1.3.2, step 4. The length check above makes its "sn is 0" failures unreachable.
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (r != root) {
    return absl::DataLossError(absl::StrCat("the inclusion proof of leaf ", index,
                                            " in a tree of size ", size, " leads to root ",
                                            ToHex(r), ", not to the expected ", ToHex(root)));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, absl::Span<const Hash> proof) {
  if (old_size > new_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("old tree size ", old_size, " is larger than new tree size ", new_size));
  }
  if (old_size == 0 || old_size == new_size) {
    if (!proof.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("a consistency proof from size ", old_size,
                                                     " to ", new_size, " is empty, this one has ",
                                                     proof.size(), " hashes"));
    }
    if (old_size == 0 && old_root != EmptyRoot()) {
      return absl::DataLossError(
          absl::StrCat("old root ", ToHex(old_root), " is not the root of the empty tree"));
    }
    if (old_size != 0 && old_root != new_root) {
      return absl::DataLossError(absl::StrCat("two trees of size ", old_size,
                                              " have different roots ", ToHex(old_root), " and ",
                                              ToHex(new_root)));
    }
    return absl::OkStatus();
  }
  // RFC 9162 §2.1.4.2, steps 2 to 4. When old_size is a power of two the old tree is a complete
  // subtree of the new one, so its root is the first hash and the proof omits it.
  const bool old_is_subtree = (old_size & (old_size - 1)) == 0;
  uint64_t fn = old_size - 1;
  uint64_t sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  if (const uint64_t want = PathLength(fn, sn) + (old_is_subtree ? 0 : 1); proof.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat("a consistency proof from size ", old_size,
                                                   " to ", new_size, " has ", want,
                                                   " hashes, this one has ", proof.size()));
  }
  // Steps 5 and 6: fr rebuilds the old root and sr the new one from the same hashes.
  size_t next = 0;
  Hash fr = old_is_subtree ? old_root : proof[next++];
  Hash sr = fr;
  for (; next < proof.size(); ++next) {
    const Hash& c = proof[next];
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // Step 7 (sn == 0 holds by the length check).
  if (fr != old_root) {
    return absl::DataLossError(absl::StrCat("the consistency proof from size ", old_size, " to ",
                                            new_size, " leads to old root ", ToHex(fr),
                                            ", not to the expected ", ToHex(old_root)));
  }
  if (sr != new_root) {
    return absl::DataLossError(absl::StrCat(
        "the consistency proof from size ", old_size, " to ", new_size, " leads to new root ",
        ToHex(sr), ", not to the expected ", ToHex(new_root),
        old_is_subtree ? " (the old tree is a complete subtree of the new one, so a wrong old "
                         "root also shows here)"
                       : ""));
  }
  return absl::OkStatus();
}

}  // namespace ndx::audit
