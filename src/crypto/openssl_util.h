#ifndef NDX_CRYPTO_OPENSSL_UTIL_H_
#define NDX_CRYPTO_OPENSSL_UTIL_H_

// Private to src/crypto: owning pointers for OpenSSL objects and PEM conversions.

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ndx::crypto::internal {

template <typename T, void (*kFree)(T*)>
struct Deleter {
  void operator()(T* p) const { kFree(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

// `what` followed by OpenSSL's queued errors (which it also clears).
std::string OpenSslErrors(absl::string_view what);

// The first certificate of a PEM text; kInvalidArgument naming `source` when there is none.
absl::StatusOr<X509Ptr> ParseCertificatePem(absl::string_view pem, absl::string_view source);
absl::StatusOr<PkeyPtr> ParsePrivateKeyPem(absl::string_view pem, absl::string_view source);
absl::StatusOr<std::string> CertificateToPem(X509* cert);
absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key);

// RFC 2253 text of a distinguished name, e.g. "CN=moh/insurance".
std::string NameToString(const X509_NAME* name);

// The subject alternative names of a certificate, each kind in order; IPs as text.
struct SubjectAltNames {
  std::vector<std::string> uris;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};
SubjectAltNames GetSubjectAltNames(X509* cert);

}  // namespace ndx::crypto::internal

#endif  // NDX_CRYPTO_OPENSSL_UTIL_H_
