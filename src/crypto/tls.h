#ifndef NDX_CRYPTO_TLS_H_
#define NDX_CRYPTO_TLS_H_

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/revocation.h"
#include "crypto/spiffe_id.h"

namespace ndx::crypto {

// PEM paths of one mTLS identity (the same shape as ndx.v1.TlsFiles, kept free of protobuf).
struct TlsFilePaths {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// Which end of a TLS connection a certificate authenticates.
enum class PeerRole { kClient, kServer };

// The leaf rules of the platform, which every peer certificate must obey (the chain, validity
// and the platform CA are TLS's business, before these run):
//   - it has extensions at all (a bare certificate is refused whatever else it holds);
//   - it is not a CA: no basicConstraints CA:TRUE, no keyCertSign;
//   - its extendedKeyUsage names clientAuth (kClient) or serverAuth (kServer);
//   - it has exactly one URI SAN, an ndx SPIFFE id, and, when `trust_domain` is not empty, one
//     of that trust domain.
// Returns that identity. kUnauthenticated whose message names the broken rule, starting with
// "client certificate" or "server certificate", e.g. "client certificate is a CA certificate
// (basicConstraints CA:TRUE or keyCertSign) ..."; kInvalidArgument when `pem` holds no
// certificate. Thread-safe.
absl::StatusOr<SpiffeId> CheckLeafCertificate(absl::string_view pem, PeerRole role,
                                              absl::string_view trust_domain);

// Server credentials that require a client certificate chaining to the CA in `files.ca_file`
// (TLS 1.2 minimum) and obeying the client leaf rules of CheckLeafCertificate, of
// `trust_domain`. A client failing any of it fails the TLS handshake: its call ends UNAVAILABLE
// and never reaches a service, and the refusal is logged (warning) with the rule and the
// certificate's SHA-256 fingerprint, since the client cannot be told.
// Errors: a missing/unreadable file (kNotFound / kPermissionDenied), a key file readable by group
// or others (kFailedPrecondition, the message says to chmod 600), a cert that does not match its
// key (kInvalidArgument), a certificate of our own that its clients would refuse as a server
// certificate of `trust_domain` (kFailedPrecondition naming the rule).
// With `revocation` (not owned, must outlive the credentials), a client certificate it lists is
// refused as well ("client certificate ... has been revoked").
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFilePaths& files, const std::string& trust_domain,
    const RevocationWatcher* revocation = nullptr);

// Channel credentials presenting our certificate and verifying the server's chain against the CA
// and the server leaf rules of CheckLeafCertificate. Host names are not checked: when
// `expected_server` is set, the server's certificate must carry exactly that URI SAN. A server
// failing any of it fails the handshake: the call ends UNAVAILABLE with a message holding the
// rule (and the refusal is logged at info level). Our own certificate must obey the client leaf
// rules (kFailedPrecondition naming the rule otherwise), besides the file errors above.
// With `watch` (from WatchTlsFiles(files)), the credentials share that watch of the files instead
// of starting their own.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFilePaths& files, std::optional<SpiffeId> expected_server,
    std::shared_ptr<grpc::experimental::CertificateProviderInterface> watch = nullptr);

// A watch of `files` (certificate, key, CA), re-read every second so that renewed files are used
// from the next handshake on, for credentials that share it: the gateway's channels to every
// adapter read its files once, not once per adapter.
std::shared_ptr<grpc::experimental::CertificateProviderInterface> WatchTlsFiles(
    const TlsFilePaths& files);

// The verified peer identity of a call, from the one URI SAN of the peer's certificate.
// kUnauthenticated when the peer has no certificate, or its certificate has zero or several URI
// SANs, or the URI is not an ndx SPIFFE id.
absl::StatusOr<SpiffeId> PeerIdentity(const grpc::AuthContext& auth_context);

}  // namespace ndx::crypto

#endif  // NDX_CRYPTO_TLS_H_
