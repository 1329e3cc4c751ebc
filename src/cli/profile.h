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
  // Gateway name whose SPIFFE id the gateway's certificate must carry (--gateway-id).
  std::string gateway_id;
};

// Where and how ndxctl connects: everything resolved, every path usable as is.
struct ConnectionSettings {
  std::string gateway;
  crypto::TlsFilePaths tls;
  int64_t timeout_ms = kDefaultTimeoutMs;
  std::string gateway_id;
};

// The profile file to read: `flag` when given, else `env_profile` ($NDX_PROFILE) when set and
// non-empty, else <home>/.config/ndx/profile.textproto if that file exists, else "" (no profile).
// `env_profile` and `home` may be null.
std::string FindProfilePath(const std::string& flag, const char* env_profile, const char* home);

// Reads the profile at `profile_path` (none when empty), resolves its relative paths against the
// profile's directory, and lays the flags over it. Errors: the profile cannot be read or parsed
// (its own status: kNotFound, kInvalidArgument with line and column; exit 3), and a usage error
// naming the flag to pass when the gateway address or a TLS file is still missing.
absl::StatusOr<ConnectionSettings> ResolveConnection(const ConnectionFlags& flags,
                                                     const std::string& profile_path);

}  // namespace ndx::cli

#endif  // NDX_CLI_PROFILE_H_
