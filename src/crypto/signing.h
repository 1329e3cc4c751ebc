#ifndef NDX_CRYPTO_SIGNING_H_
#define NDX_CRYPTO_SIGNING_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ndx::crypto {

inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519PrivateKeySize = 32;  // the RFC 8032 secret key (seed)
inline constexpr size_t kEd25519SignatureSize = 64;

// An Ed25519 private key (RFC 8032): what the gateway signs its audit checkpoints with.
// Immutable once made; thread-safe: Sign() may be called concurrently. Move-only; a moved-from
// key must not be used.
class SigningKey {
 public:
  // A fresh key from the operating system's randomness.
  static absl::StatusOr<SigningKey> Generate();

  // Reads an unencrypted PKCS #8 PEM Ed25519 key (as written by SavePem, or by
  // `openssl genpkey -algorithm ed25519`). Errors: kNotFound / kPermissionDenied when the file
  // cannot be read; kFailedPrecondition when group or others may access it (the message says to
  // chmod 600); kInvalidArgument when it holds no PEM key, or a key of another type.
  static absl::StatusOr<SigningKey> LoadPem(const std::string& path);

  // The key whose RFC 8032 secret key is `private_key` (32 bytes). Exists so that tests can use
  // published vectors; real keys come from Generate() and live in a 0600 file.
  static absl::StatusOr<SigningKey> FromRawPrivateKeyForTest(absl::string_view private_key);

  SigningKey(SigningKey&& other) noexcept;
  SigningKey& operator=(SigningKey&& other) noexcept;
  ~SigningKey();

  // Writes the key as PKCS #8 PEM with mode 0600, atomically. Never replaces a file:
  // kAlreadyExists when `path` exists, even if another process creates it meanwhile.
  absl::Status SavePem(const std::string& path) const;

  // The 64-byte Ed25519 signature of `message`. kInternal only if OpenSSL itself fails.
  absl::StatusOr<std::string> Sign(absl::string_view message) const;

  // The 32-byte RFC 8032 encoding of the public key.
  const std::string& public_key() const { return public_key_; }

 private:
  struct Key;  // owns the OpenSSL key; kept out of this header

  SigningKey(std::unique_ptr<Key> key, std::string public_key);
  // Takes ownership of a key made by OpenSSL and reads its public half.
  static absl::StatusOr<SigningKey> Make(std::unique_ptr<Key> key);

  std::unique_ptr<Key> key_;
  std::string public_key_;
};

// OK when `signature` (64 bytes) is a valid Ed25519 signature of `message` under `public_key`
// (32 raw bytes). kInvalidArgument when a size is wrong; kUnauthenticated when the signature does
// not verify. Thread-safe.
absl::Status VerifyEd25519(absl::string_view public_key, absl::string_view message,
                           absl::string_view signature);

}  // namespace ndx::crypto

#endif  // NDX_CRYPTO_SIGNING_H_
