#ifndef NDX_AUDIT_PROOF_VERIFIER_H_
#define NDX_AUDIT_PROOF_VERIFIER_H_

// The hashing of the audit log's Merkle tree and the verification of its proofs, as RFC 9162
// (Certificate Transparency 2.0) §2.1 defines them. This file depends on nothing but SHA-256, so
// that a verifier (`ndxctl audit verify`) checks a proof with its own code, never with the code
// that produced it (merkle.h). All functions are thread-safe.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "crypto/hash.h"

namespace ndx::audit {

using Hash = crypto::Sha256Digest;

// SHA-256(0x00 || entry): the domain prefix keeps a leaf from ever being taken for a node.
Hash LeafHash(absl::string_view entry);
// SHA-256(0x01 || left || right).
Hash NodeHash(const Hash& left, const Hash& right);
// The root of the empty tree: SHA-256 of the empty string.
Hash EmptyRoot();

// OK if `proof` (the PATH of RFC 9162 §2.1.3.1) proves that the leaf whose hash is `leaf_hash`
// is at `index` in the tree of `size` leaves whose root is `root` (algorithm of §2.1.3.2).
// kInvalidArgument when index >= size or the proof has the wrong number of hashes for
// (index, size); kDataLoss when the hashes do not lead to `root`.
absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t index, uint64_t size,
                             absl::Span<const Hash> proof, const Hash& root);

// OK if `proof` (the PROOF of RFC 9162 §2.1.4.1) proves that the tree of `new_size` leaves with
// root `new_root` extends the tree of `old_size` leaves with root `old_root` (algorithm of
// §2.1.4.2). The empty tree (whose root must be EmptyRoot()) is extended by every tree, and a tree
// by itself, with an empty proof. kInvalidArgument when old_size > new_size or the proof has the
// wrong number of hashes; kDataLoss when the hashes do not lead to both roots.
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, absl::Span<const Hash> proof);

}  // namespace ndx::audit

#endif  // NDX_AUDIT_PROOF_VERIFIER_H_
