#ifndef NDX_CLI_PROFILE_H_
#define NDX_CLI_PROFILE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "crypto/tls.h"

namespace ndx::cli {

// Default call deadline when neither --timeout nor the profile sets one.
inline constexpr int64_t kDefaultTimeoutMs = 10000;

// The connection flags as given on the command line; empty (or nullopt) means "not given".
struct ConnectionFlags {
  std::string profile;
  std::string gateway;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::optional<int64_t> timeout_ms;
  // Gateway name whose SPIFFE id the gateway's certificate must carry (--gateway-id); overrides
  // the profile's gateway_id.
  std::string gateway_id;
};

// Where and how ndxctl connects: everything resolved, every path usable as is.
struct ConnectionSettings {
  std::string gateway;
  crypto::TlsFilePaths tls;
  int64_t timeout_ms = kDefaultTimeoutMs;
  // The gateway's name: its certificate must be spiffe://<trust domain of the CA>/gateway/<it>.
  // Empty only when resolved with GatewayIdentity::kOptional and given nowhere.
  std::string gateway_id;
};

// Whether the gateway's identity must be given. ndxctl only ever talks to a gateway and always
// pins it; ndx-bench may target an adapter, which has no gateway identity to pin.
enum class GatewayIdentity { kRequired, kOptional };

// The profile file to read: `flag` when given, else `env_profile` ($NDX_PROFILE) when set and
// non-empty, else <home>/.config/ndx/profile.textproto if that file exists, else "" (no profile).
// `env_profile` and `home` may be null.
std::string FindProfilePath(const std::string& flag, const char* env_profile, const char* home);

// Reads the profile at `profile_path` (none when empty), resolves its relative paths against the
// profile's directory, and lays the flags over it. Errors: the profile cannot be read or parsed
// (its own status: kNotFound, kInvalidArgument with line and column; exit 3), and a usage error
// naming the flag to pass or the profile field to set when the gateway address, a TLS file or
// (with kRequired) the gateway's identity is still missing, or when the gateway's identity is
// not a gateway name.
absl::StatusOr<ConnectionSettings> ResolveConnection(const ConnectionFlags& flags,
                                                     const std::string& profile_path,
                                                     GatewayIdentity gateway_identity);

}  // namespace ndx::cli

#endif  // NDX_CLI_PROFILE_H_
