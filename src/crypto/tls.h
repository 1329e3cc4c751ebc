#ifndef NDX_CRYPTO_TLS_H_
#define NDX_CRYPTO_TLS_H_

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "crypto/spiffe_id.h"

namespace ndx::crypto {

// PEM paths of one mTLS identity (the same shape as ndx.v1.TlsFiles, kept free of protobuf).
struct TlsFilePaths {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// Server credentials that require a client certificate chaining to the CA in `files.ca_file`:
// a client without one, or with one from another CA, fails the TLS handshake. TLS 1.2 minimum.
// Errors: a missing/unreadable file (kNotFound / kPermissionDenied), a key file readable by group
// or others (kFailedPrecondition, the message says to chmod 600), a cert that does not match its
// key (kInvalidArgument).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFilePaths& files);

// Channel credentials presenting our certificate and verifying the server's chain against the CA.
// Host names are not checked: when `expected_server` is set, the server's certificate must carry
// exactly that URI SAN, or the handshake fails. Without it, any identity from the CA is accepted.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFilePaths& files, std::optional<SpiffeId> expected_server);

// The verified peer identity of a call, from the one URI SAN of the peer's certificate.
// kUnauthenticated when the peer has no certificate, or its certificate has zero or several URI
// SANs, or the URI is not an ndx SPIFFE id.
absl::StatusOr<SpiffeId> PeerIdentity(const grpc::AuthContext& auth_context);

}  // namespace ndx::crypto

#endif  // NDX_CRYPTO_TLS_H_
