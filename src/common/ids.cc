#include "common/ids.h"

#include "absl/strings/str_cat.h"

namespace ndx {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

absl::Status ValidatePair(absl::string_view id, absl::string_view what, absl::string_view shape) {
  size_t slash = id.find('/');
  if (slash == absl::string_view::npos || id.find('/', slash + 1) != absl::string_view::npos ||
      !IsValidSegment(id.substr(0, slash)) || !IsValidSegment(id.substr(slash + 1))) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " \"", id, "\" is malformed: expected \"", shape,
        "\", each part 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidSegment(absl::string_view segment) {
  if (segment.empty() || segment.size() > 63 || !IsLowerAlnum(segment[0])) return false;
  for (char c : segment) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

absl::Status ValidateNodeId(absl::string_view id) {
  return ValidatePair(id, "node id", "agency/system");
}

absl::Status ValidateDatasetId(absl::string_view id) {
  return ValidatePair(id, "dataset id", "agency/name");
}

absl::string_view AgencyOf(absl::string_view id) { return id.substr(0, id.find('/')); }

absl::Status ValidatePurpose(absl::string_view purpose) {
  bool ok = !purpose.empty() && purpose.size() <= 128 && IsLowerAlnum(purpose[0]);
  for (char c : purpose) {
    ok = ok && (IsLowerAlnum(c) || c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("purpose \"", purpose,
                     "\" is malformed: expected 1-128 characters of a-z, 0-9, '.', '_' and '-', "
                     "starting with a letter or digit"));
  }
  return absl::OkStatus();
}

absl::Status ValidateEventType(absl::string_view type) {
  bool ok = !type.empty() && type.size() <= 64 && type[0] >= 'a' && type[0] <= 'z';
  for (char c : type) {
    ok = ok && (IsLowerAlnum(c) || c == '-' || c == '_' || c == '.');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("event type \"", type,
                     "\" is malformed: expected 1-64 characters of a-z, 0-9, '.', '_' and '-', "
                     "starting with a letter, e.g. \"birth.registered\""));
  }
  return absl::OkStatus();
}

absl::Status ValidateTrustDomain(absl::string_view trust_domain) {
  bool ok = !trust_domain.empty() && trust_domain.size() <= 255;
  for (char c : trust_domain) {
    ok = ok && (IsLowerAlnum(c) || c == '-' || c == '.');
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trust domain \"", trust_domain, "\" is malformed: expected a-z, 0-9, '.' and '-'"));
  }
  return absl::OkStatus();
}

}  // namespace ndx
