#ifndef NDX_CRYPTO_SEALER_H_
#define NDX_CRYPTO_SEALER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ndx::crypto {

// Authenticated encryption of small values under a key that never leaves the process: what the
// gateway hands out or stores but must keep unreadable and unforgeable (page tokens, record keys
// of events at rest). A sealed value is a version byte, a 16-byte random salt, the AES-256-GCM
// ciphertext and its 16-byte tag. Each value is encrypted under its own key, HMAC-SHA-256 of the
// salt under the sealer's key, so a fixed nonce is never reused under one key and no count of
// values sealed under one master key needs watching. The associated data is authenticated, not
// stored: Open fails unless it is given the same.
// Thread-safe (immutable).
class Sealer {
 public:
  static constexpr size_t kMinKeyBytes = 32;
  // Bytes a sealed value adds to its plaintext.
  static constexpr size_t kOverheadBytes = 1 + 16 + 16;

  // A sealer whose key is derived from `master_key` (at least kMinKeyBytes) for `purpose`, so
  // that one master key serves several uses whose values cannot be swapped for each other.
  static absl::StatusOr<Sealer> Create(absl::string_view master_key, absl::string_view purpose);

  std::string Seal(absl::string_view plaintext, absl::string_view associated_data) const;

  // The plaintext of a value that Seal made with this sealer and `associated_data`;
  // kInvalidArgument ("not sealed by this gateway, or altered") otherwise.
  absl::StatusOr<std::string> Open(absl::string_view sealed,
                                   absl::string_view associated_data) const;

 private:
  explicit Sealer(std::string key) : key_(std::move(key)) {}

  std::string key_;
};

}  // namespace ndx::crypto

#endif  // NDX_CRYPTO_SEALER_H_
