#ifndef NDX_CRYPTO_TLS_INTERNAL_H_
#define NDX_CRYPTO_TLS_INTERNAL_H_

// Private to src/crypto: the checks that gRPC's credentials (tls.cc) and the other TLS servers'
// context (tls_context.cc) share.

#include <openssl/x509.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/spiffe_id.h"
#include "crypto/tls.h"

namespace ndx::crypto::internal {

struct TlsPems {
  std::string ca;
  std::string cert;
  std::string key;
};

// Reads the three files and checks what a bad deployment gets wrong: a key others can read, a
// certificate that is not the key's, a CA file without a certificate.
absl::StatusOr<TlsPems> LoadTlsFiles(const TlsFilePaths& files);

// kUnauthenticated "<client|server> certificate <rule>".
absl::Status Refused(PeerRole role, absl::string_view rule);

// The leaf rules of CheckLeafCertificate on a parsed certificate.
absl::StatusOr<SpiffeId> CheckLeaf(X509* cert, PeerRole role, absl::string_view trust_domain);

// Refuses to present a certificate that the peers would refuse (kFailedPrecondition naming
// `cert_file` and the rule).
absl::Status CheckOwnCertificate(const TlsPems& pems, const std::string& cert_file, PeerRole role,
                                 absl::string_view trust_domain);

// The SHA-256 fingerprint of a PEM certificate, for the log line of a refusal; "unknown" when it
// cannot be read.
std::string FingerprintOf(const char* pem);

}  // namespace ndx::crypto::internal

#endif  // NDX_CRYPTO_TLS_INTERNAL_H_
