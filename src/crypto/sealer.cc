#include "crypto/sealer.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "crypto/hash.h"

namespace ndx::crypto {
namespace {

constexpr char kVersion = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kTagBytes = 16;
constexpr size_t kNonceBytes = 12;
// Every value has its own key, so one fixed nonce is safe.
constexpr unsigned char kNonce[kNonceBytes] = {};

struct CipherContextDeleter {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextDeleter>;

const unsigned char* Bytes(absl::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

absl::Status NotSealedHere() {
  return absl::InvalidArgumentError("not sealed by this gateway, or altered");
}

}  // namespace

absl::StatusOr<Sealer> Sealer::Create(absl::string_view master_key, absl::string_view purpose) {
  if (master_key.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a sealing key needs at least ", kMinKeyBytes,
                                                   " bytes; this one has ", master_key.size()));
  }
  return Sealer(std::string(AsBytes(HmacSha256(master_key, purpose))));
}

std::string Sealer::Seal(absl::string_view plaintext, absl::string_view associated_data) const {
  std::string salt = RandomBytes(kSaltBytes);
  Sha256Digest value_key = HmacSha256(key_, salt);
  std::string sealed;
  sealed.reserve(kOverheadBytes + plaintext.size());
  sealed.push_back(kVersion);
  sealed.append(salt);
  size_t ciphertext_at = sealed.size();
  sealed.resize(ciphertext_at + plaintext.size() + kTagBytes);
  auto* out = reinterpret_cast<unsigned char*>(sealed.data() + ciphertext_at);

  CipherContext context(EVP_CIPHER_CTX_new());
  int length = 0;
  // These calls fail only on allocation failure or programmer error (sizes are fixed above).
  bool ok = context != nullptr &&
            EVP_EncryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
            EVP_EncryptInit_ex(context.get(), nullptr, nullptr, value_key.data(), kNonce) == 1 &&
            EVP_EncryptUpdate(context.get(), nullptr, &length, Bytes(associated_data),
                              static_cast<int>(associated_data.size())) == 1 &&
            EVP_EncryptUpdate(context.get(), out, &length, Bytes(plaintext),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(context.get(), out + length, &length) == 1 &&
            EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                out + plaintext.size()) == 1;
  if (!ok) std::abort();
  return sealed;
}

absl::StatusOr<std::string> Sealer::Open(absl::string_view sealed,
                                         absl::string_view associated_data) const {
  if (sealed.size() < kOverheadBytes || sealed[0] != kVersion) return NotSealedHere();
  absl::string_view salt = sealed.substr(1, kSaltBytes);
  absl::string_view ciphertext = sealed.substr(1 + kSaltBytes, sealed.size() - kOverheadBytes);
  absl::string_view tag = sealed.substr(sealed.size() - kTagBytes);
  Sha256Digest value_key = HmacSha256(key_, salt);

  std::string plaintext(ciphertext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  CipherContext context(EVP_CIPHER_CTX_new());
  int length = 0;
  bool ok = context != nullptr &&
            EVP_DecryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
            EVP_DecryptInit_ex(context.get(), nullptr, nullptr, value_key.data(), kNonce) == 1 &&
            EVP_DecryptUpdate(context.get(), nullptr, &length, Bytes(associated_data),
                              static_cast<int>(associated_data.size())) == 1 &&
            EVP_DecryptUpdate(context.get(), out, &length, Bytes(ciphertext),
                              static_cast<int>(ciphertext.size())) == 1 &&
            EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                                const_cast<char*>(tag.data())) == 1 &&
            EVP_DecryptFinal_ex(context.get(), out + length, &length) == 1;
  if (!ok) return NotSealedHere();
  return plaintext;
}

}  // namespace ndx::crypto
