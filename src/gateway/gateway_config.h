#ifndef NDX_GATEWAY_GATEWAY_CONFIG_H_
#define NDX_GATEWAY_GATEWAY_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "ndx/v1/config.pb.h"

namespace ndx::gateway {

// Reads a GatewayConfig text proto, resolves its relative paths against the file's directory,
// fills defaults, and checks it. kInvalidArgument naming the file and the setting to fix.
absl::StatusOr<v1::GatewayConfig> LoadGatewayConfig(const std::string& path);

// The defaults and checks of LoadGatewayConfig, for a config built in memory. `origin` names it in
// error messages.
absl::Status FinishGatewayConfig(const std::string& origin, v1::GatewayConfig* config);

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_GATEWAY_CONFIG_H_
