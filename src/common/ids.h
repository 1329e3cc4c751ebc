#ifndef NDX_COMMON_IDS_H_
#define NDX_COMMON_IDS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ndx {

// Node ids ("agency/system"), dataset ids ("agency/name"), gateway names, purposes and trust
// domains are plain strings on the wire; these checks keep them to one spelling so that they can
// be compared byte for byte and embedded in SPIFFE ids and storage keys.

// A segment: 1 to 63 characters of [a-z0-9-], starting with a letter or digit.
bool IsValidSegment(absl::string_view segment);

// "agency/system": two segments.
absl::Status ValidateNodeId(absl::string_view id);
// "agency/name": two segments.
absl::Status ValidateDatasetId(absl::string_view id);
// The agency part of a node or dataset id; REQUIRES: the id is valid.
absl::string_view AgencyOf(absl::string_view id);
// A purpose (legal basis): 1 to 128 characters of [a-z0-9._-], starting with a letter or digit.
absl::Status ValidatePurpose(absl::string_view purpose);
// An event type such as "birth.registered": 1 to 64 characters of [a-z0-9._-], starting with a
// letter.
absl::Status ValidateEventType(absl::string_view type);
// A DNS-style trust domain: 1 to 255 characters of [a-z0-9.-].
absl::Status ValidateTrustDomain(absl::string_view trust_domain);

}  // namespace ndx

#endif  // NDX_COMMON_IDS_H_
