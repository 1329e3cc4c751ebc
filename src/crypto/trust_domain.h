#ifndef NDX_CRYPTO_TRUST_DOMAIN_H_
#define NDX_CRYPTO_TRUST_DOMAIN_H_

// Private to src/crypto: trust-domain checks shared by spiffe_id.cc and pki.cc.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ndx::crypto {

// ValidateTrustDomain plus non-empty DNS labels, so that the trust domain is a URI host that
// ParseSpiffeId accepts back.
absl::Status ValidateSpiffeTrustDomain(absl::string_view trust_domain);

// The trust domain of a CA's URI SAN, "spiffe://<trust-domain>" (no path).
absl::StatusOr<std::string> TrustDomainOfCaUri(absl::string_view uri);

}  // namespace ndx::crypto

#endif  // NDX_CRYPTO_TRUST_DOMAIN_H_
