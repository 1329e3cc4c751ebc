#include "gateway/caller.h"

#include "absl/strings/str_cat.h"
#include "crypto/tls.h"

namespace ndx::gateway {

absl::StatusOr<std::string> CallerNodeId(const grpc::ServerContextBase& context,
                                         const std::string& trust_domain) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return absl::UnauthenticatedError("the call carries no TLS peer");
  absl::StatusOr<crypto::SpiffeId> peer = crypto::PeerIdentity(*auth);
  if (!peer.ok()) return peer.status();
  if (peer->trust_domain() != trust_domain) {
    return absl::UnauthenticatedError(
        absl::StrCat("identity ", peer->ToString(), " is not of trust domain ", trust_domain));
  }
  if (!peer->is_node()) {
    return absl::PermissionDeniedError(
        absl::StrCat(peer->ToString(), " is not a node identity; only nodes call this API"));
  }
  return peer->name();
}

}  // namespace ndx::gateway
