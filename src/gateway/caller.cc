#include "gateway/caller.h"

#include "absl/strings/str_cat.h"
#include "crypto/tls.h"

namespace ndx::gateway {

absl::StatusOr<std::string> CallerNodeId(const grpc::ServerContextBase& context,
                                         const CallerPolicy& policy) {
  absl::StatusOr<crypto::SpiffeId> peer = CallerIdentity(context, policy);
  if (!peer.ok()) return peer.status();
  return NodeIdOf(*peer, policy);
}

absl::StatusOr<crypto::SpiffeId> CallerIdentity(const grpc::ServerContextBase& context,
                                                const CallerPolicy& policy) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return absl::UnauthenticatedError("the call carries no TLS peer");
  absl::StatusOr<crypto::SpiffeId> peer = crypto::PeerIdentity(*auth);
  if (!peer.ok()) return peer.status();
  // The handshake checked the certificate against the CRL of its time; a connection outlives
  // a revocation, so every call is checked against the CRL in force.
  if (policy.revocation != nullptr) {
    std::vector<grpc::string_ref> pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (pems.empty() ||
        policy.revocation->IsRevoked(absl::string_view(pems[0].data(), pems[0].size()))) {
      return absl::UnauthenticatedError(
          absl::StrCat("the certificate of ", peer->ToString(), " has been revoked"));
    }
  }
  return peer;
}

absl::StatusOr<std::string> NodeIdOf(const crypto::SpiffeId& peer, const CallerPolicy& policy) {
  if (peer.trust_domain() != policy.trust_domain) {
    return absl::UnauthenticatedError(absl::StrCat(
        "identity ", peer.ToString(), " is not of trust domain ", policy.trust_domain));
  }
  if (!peer.is_node()) {
    return absl::PermissionDeniedError(
        absl::StrCat(peer.ToString(), " is not a node identity; only nodes call this API"));
  }
  return peer.name();
}

}  // namespace ndx::gateway
