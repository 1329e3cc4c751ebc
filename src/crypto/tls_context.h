#ifndef NDX_CRYPTO_TLS_CONTEXT_H_
#define NDX_CRYPTO_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "crypto/revocation.h"
#include "crypto/spiffe_id.h"
#include "crypto/tls.h"

// OpenSSL's types, declared so that users of this header do not include OpenSSL.
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace ndx::crypto {

// The mTLS policy of MakeServerCredentials for servers that are not gRPC's (the gateway's HTTPS
// listeners: the REST/JSON API and the metrics endpoint), applied to an OpenSSL SSL_CTX:
//   - TLS 1.2 minimum; our certificate and key from `files`, which must obey the server leaf
//     rules of `trust_domain`;
//   - a client certificate is required and verified against the CA of `files`, then against the
//     client leaf rules of CheckLeafCertificate and, with `revocation`, the CRL in force; a
//     client failing any of it fails the handshake, and the refusal is logged (warning) with the
//     rule and the certificate's SHA-256 fingerprint, as for gRPC;
//   - the three files are re-read when they change (checked at most once a second, at the next
//     handshake), so a renewed certificate or CA applies without a restart; a file that cannot be
//     read or checked then leaves the last good ones in use, and is logged.
// Thread-safe; must outlive every SSL_CTX it configured. `revocation` is not owned and must
// outlive it too.
class ServerTlsContext {
 public:
  // Errors as MakeServerCredentials: missing or unreadable files, a key readable by others, a
  // certificate that does not match its key or that clients would refuse.
  static absl::StatusOr<std::unique_ptr<ServerTlsContext>> Create(
      const TlsFilePaths& files, const std::string& trust_domain,
      const RevocationWatcher* revocation = nullptr);
  ~ServerTlsContext();
  ServerTlsContext(const ServerTlsContext&) = delete;
  ServerTlsContext& operator=(const ServerTlsContext&) = delete;

  // Applies the policy to `ctx`; false (with the reason logged) when OpenSSL refuses it.
  bool Configure(SSL_CTX& ctx) const;

  // The identity of the client of a connection that `ctx` accepted: its one URI SAN, checked
  // again against the CRL in force, so that a connection opened before a revocation cannot go on
  // calling. kUnauthenticated when there is no verified client certificate or it is revoked.
  absl::StatusOr<SpiffeId> PeerIdentity(const SSL& ssl) const;

  // Defined in tls_context.cc, where OpenSSL's callbacks reach them; opaque to users.
  struct Material;
  class State;

 private:
  explicit ServerTlsContext(std::unique_ptr<State> state);

  const std::unique_ptr<State> state_;
};

}  // namespace ndx::crypto

#endif  // NDX_CRYPTO_TLS_CONTEXT_H_
