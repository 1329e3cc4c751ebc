#include "crypto/spiffe_id.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "crypto/trust_domain.h"

namespace ndx::crypto {
namespace {

constexpr absl::string_view kScheme = "spiffe://";

absl::Status Malformed(absl::string_view uri, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("SPIFFE id \"", absl::CHexEscape(uri), "\" is malformed: ", why,
                   "; expected spiffe://<trust-domain>/node/<agency>/<system> or "
                   "spiffe://<trust-domain>/gateway/<name>"));
}

}  // namespace

absl::Status ValidateSpiffeTrustDomain(absl::string_view trust_domain) {
  NDX_RETURN_IF_ERROR(ValidateTrustDomain(trust_domain));
  // ValidateTrustDomain admits "a..b" or ".a"; a URI host needs non-empty DNS labels.
  for (absl::string_view label : absl::StrSplit(trust_domain, '.')) {
    if (!IsValidSegment(label)) {
      return absl::InvalidArgumentError(
          absl::StrCat("trust domain \"", trust_domain,
                       "\" is malformed: each dot-separated label must be 1-63 characters of "
                       "a-z, 0-9 and '-', starting with a letter or digit"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TrustDomainOfCaUri(absl::string_view uri) {
  if (!absl::StartsWith(uri, kScheme)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CA URI \"", absl::CHexEscape(uri), "\" is not spiffe://<trust-domain>"));
  }
  absl::string_view trust_domain = uri.substr(kScheme.size());
  NDX_RETURN_IF_ERROR(ValidateSpiffeTrustDomain(trust_domain));
  return std::string(trust_domain);
}

SpiffeId SpiffeId::Node(std::string trust_domain, std::string node_id) {
  return SpiffeId(std::move(trust_domain), Kind::kNode, std::move(node_id));
}

SpiffeId SpiffeId::Gateway(std::string trust_domain, std::string name) {
  return SpiffeId(std::move(trust_domain), Kind::kGateway, std::move(name));
}

std::string SpiffeId::ToString() const {
  return absl::StrCat(kScheme, trust_domain_, is_node() ? "/node/" : "/gateway/", name_);
}

absl::StatusOr<SpiffeId> ParseSpiffeId(absl::string_view uri) {
  if (!absl::StartsWith(uri, kScheme)) return Malformed(uri, "the scheme must be spiffe://");
  absl::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) return Malformed(uri, "there is no path");
  absl::string_view trust_domain = rest.substr(0, slash);
  if (absl::Status status = ValidateSpiffeTrustDomain(trust_domain); !status.ok()) {
    // Also catches userinfo ('@'), ports (':') and upper case, none of which are in the alphabet.
    return Malformed(uri, status.message());
  }
  // Every path segment must be a valid id segment, which leaves no room for '?', '#', '%',
  // upper case, empty segments or a trailing slash.
  std::vector<absl::string_view> path = absl::StrSplit(rest.substr(slash + 1), '/');
  for (absl::string_view segment : path) {
    if (!IsValidSegment(segment)) {
      return Malformed(uri, absl::StrCat("path segment \"", absl::CHexEscape(segment),
                                         "\" is not 1-63 characters of a-z, 0-9 and '-' "
                                         "starting with a letter or digit"));
    }
  }
  if (path[0] == "node" && path.size() == 3) {
    return SpiffeId::Node(std::string(trust_domain), absl::StrCat(path[1], "/", path[2]));
  }
  if (path[0] == "gateway" && path.size() == 2) {
    return SpiffeId::Gateway(std::string(trust_domain), std::string(path[1]));
  }
  return Malformed(uri, "the path must be /node/<agency>/<system> or /gateway/<name>");
}

}  // namespace ndx::crypto
