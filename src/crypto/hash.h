#ifndef NDX_CRYPTO_HASH_H_
#define NDX_CRYPTO_HASH_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace ndx::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

// SHA-256 of the concatenation of `parts`, so that callers hashing a prefix and two children
// (Merkle nodes) need not copy them into one buffer first. Thread-safe.
Sha256Digest Sha256(std::initializer_list<absl::string_view> parts);
inline Sha256Digest Sha256(absl::string_view data) { return Sha256({data}); }

// HMAC-SHA-256 of `data` under `key`. Thread-safe.
Sha256Digest HmacSha256(absl::string_view key, absl::string_view data);

// The digest as a string_view over its bytes, and as lower-case hex.
inline absl::string_view AsBytes(const Sha256Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}
std::string ToHex(const Sha256Digest& digest);

// `size` bytes from the operating system's cryptographically secure generator (key material).
// Thread-safe.
std::string RandomBytes(size_t size);

}  // namespace ndx::crypto

#endif  // NDX_CRYPTO_HASH_H_
