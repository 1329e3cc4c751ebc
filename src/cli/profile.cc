#include "cli/profile.h"

#include <sys/stat.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cli/cli_status.h"
#include "common/files.h"
#include "common/ids.h"
#include "ndx/v1/config.pb.h"

namespace ndx::cli {
namespace {

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// `flag` when given, else the profile's value resolved against the profile file.
std::string Pick(const std::string& flag, const std::string& from_profile,
                 const std::string& profile_path) {
  if (!flag.empty()) return flag;
  return ResolvePath(from_profile, profile_path);
}

absl::Status Missing(absl::string_view what, absl::string_view flag, absl::string_view field,
                     const std::string& profile_path) {
  return UsageError(absl::StrCat("no ", what, ": pass ", flag, " or set ", field, " in ",
                                 profile_path.empty()
                                     ? "a profile (--profile, $NDX_PROFILE or "
                                       "~/.config/ndx/profile.textproto)"
                                     : absl::StrCat("the profile ", profile_path)));
}

}  // namespace

std::string FindProfilePath(const std::string& flag, const char* env_profile, const char* home) {
  if (!flag.empty()) return flag;
  if (env_profile != nullptr && env_profile[0] != '\0') return env_profile;
  if (home != nullptr && home[0] != '\0') {
    std::string path = absl::StrCat(home, "/.config/ndx/profile.textproto");
    if (IsRegularFile(path)) return path;
  }
  return "";
}

absl::StatusOr<ConnectionSettings> ResolveConnection(const ConnectionFlags& flags,
                                                     const std::string& profile_path,
                                                     GatewayIdentity gateway_identity) {
  v1::CliProfile profile;
  if (!profile_path.empty()) {
    absl::Status loaded = LoadTextProto(profile_path, &profile);
    if (!loaded.ok()) {
      return absl::Status(loaded.code(), absl::StrCat("profile: ", loaded.message()));
    }
  }
  ConnectionSettings settings;
  settings.gateway = flags.gateway.empty() ? profile.gateway() : flags.gateway;
  settings.tls.ca_file = Pick(flags.ca_file, profile.tls().ca_file(), profile_path);
  settings.tls.cert_file = Pick(flags.cert_file, profile.tls().cert_file(), profile_path);
  settings.tls.key_file = Pick(flags.key_file, profile.tls().key_file(), profile_path);
  if (flags.timeout_ms.has_value()) {
    settings.timeout_ms = *flags.timeout_ms;
  } else if (profile.timeout_ms() > 0) {
    settings.timeout_ms = profile.timeout_ms();
  }
  settings.gateway_id = flags.gateway_id.empty() ? profile.gateway_id() : flags.gateway_id;

  if (settings.gateway.empty()) {
    return Missing("gateway address", "--gateway HOST:PORT", "gateway", profile_path);
  }
  if (settings.tls.ca_file.empty()) {
    return Missing("CA certificate", "--ca FILE", "tls.ca_file", profile_path);
  }
  if (settings.tls.cert_file.empty()) {
    return Missing("client certificate", "--cert FILE", "tls.cert_file", profile_path);
  }
  if (settings.tls.key_file.empty()) {
    return Missing("client key", "--key FILE", "tls.key_file", profile_path);
  }
  // Without a name, any certificate of the platform CA would pass for the gateway: a node's, or
  // a stolen one's.
  if (settings.gateway_id.empty()) {
    if (gateway_identity == GatewayIdentity::kOptional) return settings;
    return Missing(
        "gateway identity (the gateway's name, e.g. core for "
        "spiffe://<trust domain>/gateway/core)",
        "--gateway-id NAME", "gateway_id", profile_path);
  }
  if (!IsValidSegment(settings.gateway_id)) {
    return UsageError(
        absl::StrCat("gateway id \"", absl::CHexEscape(settings.gateway_id), "\" (",
                     flags.gateway_id.empty() ? "gateway_id of the profile" : "--gateway-id",
                     ") is not a gateway name: 1 to 63 of a-z, 0-9 and '-', e.g. core"));
  }
  return settings;
}

}  // namespace ndx::cli
