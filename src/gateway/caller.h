#ifndef NDX_GATEWAY_CALLER_H_
#define NDX_GATEWAY_CALLER_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/statusor.h"

namespace ndx::gateway {

// The node id ("agency/system") of the caller, from its verified certificate. kUnauthenticated
// when the certificate carries no usable ndx identity or one of another trust domain;
// kPermissionDenied for a gateway identity, which may not call node APIs.
absl::StatusOr<std::string> CallerNodeId(const grpc::ServerContextBase& context,
                                         const std::string& trust_domain);

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_CALLER_H_
