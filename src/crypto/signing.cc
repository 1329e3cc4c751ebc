#include "crypto/signing.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/openssl_util.h"

namespace ndx::crypto {
namespace {

using internal::Deleter;
using internal::OpenSslErrors;
using internal::PkeyPtr;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

absl::StatusOr<std::string> RawPublicKey(EVP_PKEY* key) {
  std::string raw(kEd25519PublicKeySize, '\0');
  size_t length = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &length) !=
          1 ||
      length != raw.size()) {
    return absl::InternalError(OpenSslErrors("cannot read the Ed25519 public key"));
  }
  return raw;
}

}  // namespace

struct SigningKey::Key {
  PkeyPtr pkey;
};

SigningKey::SigningKey(std::unique_ptr<Key> key, std::string public_key)
    : key_(std::move(key)), public_key_(std::move(public_key)) {}
SigningKey::SigningKey(SigningKey&& other) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&& other) noexcept = default;
SigningKey::~SigningKey() = default;

absl::StatusOr<SigningKey> SigningKey::Make(std::unique_ptr<Key> key) {
  NDX_ASSIGN_OR_RETURN(std::string public_key, RawPublicKey(key->pkey.get()));
  return SigningKey(std::move(key), std::move(public_key));
}

absl::StatusOr<SigningKey> SigningKey::Generate() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!pkey) return absl::InternalError(OpenSslErrors("cannot generate an Ed25519 key"));
  return Make(std::make_unique<Key>(Key{std::move(pkey)}));
}

absl::StatusOr<SigningKey> SigningKey::LoadPem(const std::string& path) {
  NDX_ASSIGN_OR_RETURN(std::string pem, ReadPrivateFile(path));
  NDX_ASSIGN_OR_RETURN(PkeyPtr pkey, internal::ParsePrivateKeyPem(pem, path));
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds a ",
                                                   EVP_PKEY_get0_type_name(pkey.get()),
                                                   " key; an Ed25519 key is required (make one "
                                                   "with: openssl genpkey -algorithm ed25519)"));
  }
  return Make(std::make_unique<Key>(Key{std::move(pkey)}));
}

absl::StatusOr<SigningKey> SigningKey::FromRawPrivateKeyForTest(absl::string_view private_key) {
  if (private_key.size() != kEd25519PrivateKeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an Ed25519 private key is ", kEd25519PrivateKeySize, " bytes, not ", private_key.size()));
  }
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(private_key),
                                            private_key.size()));
  if (!pkey) return absl::InternalError(OpenSslErrors("cannot import the Ed25519 key"));
  return Make(std::make_unique<Key>(Key{std::move(pkey)}));
}

absl::Status SigningKey::SavePem(const std::string& path) const {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(path, " already exists; refusing to overwrite a key (remove it first)"));
  }
  NDX_ASSIGN_OR_RETURN(std::string pem, internal::PrivateKeyToPem(key_->pkey.get()));
  // WriteFileAtomically ends with rename(), which would replace a file created since the check
  // above; link() never replaces, so the key is written beside `path` and then linked into place.
  std::string staging = absl::StrCat(path, ".new.", ::getpid());
  NDX_RETURN_IF_ERROR(WriteFileAtomically(staging, pem, 0600));
  int link_errno = ::link(staging.c_str(), path.c_str()) == 0 ? 0 : errno;
  ::unlink(staging.c_str());
  if (link_errno == EEXIST) {
    return absl::AlreadyExistsError(
        absl::StrCat(path, " already exists; refusing to overwrite a key (remove it first)"));
  }
  if (link_errno != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(link_errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SigningKey::Sign(absl::string_view message) const {
  MdCtxPtr context(EVP_MD_CTX_new());
  std::string signature(kEd25519SignatureSize, '\0');
  size_t length = signature.size();
  // Ed25519 is one-shot (no digest is named): EVP_DigestSign over the whole message.
  if (!context ||
      EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     Bytes(message), message.size()) != 1 ||
      length != signature.size()) {
    return absl::InternalError(OpenSslErrors("cannot sign with Ed25519"));
  }
  return signature;
}

absl::Status VerifyEd25519(absl::string_view public_key, absl::string_view message,
                           absl::string_view signature) {
  if (public_key.size() != kEd25519PublicKeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an Ed25519 public key is ", kEd25519PublicKeySize, " bytes, not ", public_key.size()));
  }
  if (signature.size() != kEd25519SignatureSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an Ed25519 signature is ", kEd25519SignatureSize, " bytes, not ", signature.size()));
  }
  PkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(public_key), public_key.size()));
  MdCtxPtr context(EVP_MD_CTX_new());
  if (!pkey || !context ||
      EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return absl::InternalError(OpenSslErrors("cannot set up Ed25519 verification"));
  }
  int verified = EVP_DigestVerify(context.get(), Bytes(signature), signature.size(), Bytes(message),
                                  message.size());
  // A failed verification queues OpenSSL errors that would otherwise leak into the next caller's
  // error text.
  ERR_clear_error();
  if (verified != 1) {
    return absl::UnauthenticatedError("the Ed25519 signature does not verify under this key");
  }
  return absl::OkStatus();
}

}  // namespace ndx::crypto
