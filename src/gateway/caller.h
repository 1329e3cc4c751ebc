#ifndef NDX_GATEWAY_CALLER_H_
#define NDX_GATEWAY_CALLER_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/statusor.h"
#include "crypto/revocation.h"
#include "crypto/spiffe_id.h"

namespace ndx::gateway {

// Who may call the gateway's node APIs.
struct CallerPolicy {
  // The platform's trust domain: callers are its nodes.
  std::string trust_domain;
  // When set, a call whose peer certificate it lists is refused, also over a connection made
  // before the certificate was revoked. Not owned.
  const crypto::RevocationWatcher* revocation = nullptr;
};

// The caller's identity, from its verified certificate, node or gateway. kUnauthenticated when
// the certificate carries no usable ndx identity, or has been revoked; the trust domain is not
// checked.
absl::StatusOr<crypto::SpiffeId> CallerIdentity(const grpc::ServerContextBase& context,
                                                const CallerPolicy& policy);

// The node id ("agency/system") of the caller, from its verified certificate. kUnauthenticated
// when the certificate carries no usable ndx identity, one of another trust domain, or has been
// revoked; kPermissionDenied for a gateway identity, which may not call node APIs.
absl::StatusOr<std::string> CallerNodeId(const grpc::ServerContextBase& context,
                                         const CallerPolicy& policy);

// The node id of `peer`, an identity whose certificate the transport has verified and checked
// against the CRL (the REST/JSON face's TLS layer): kUnauthenticated for another trust domain,
// kPermissionDenied for an identity that is not a node.
absl::StatusOr<std::string> NodeIdOf(const crypto::SpiffeId& peer, const CallerPolicy& policy);

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_CALLER_H_
