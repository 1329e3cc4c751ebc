#ifndef NDX_ADAPTERS_PAGE_TOKEN_H_
#define NDX_ADAPTERS_PAGE_TOKEN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/backend.h"

namespace ndx::adapters {

// Page tokens of Search: URL-safe base64 of a version byte, a digest of the query (dataset and
// filters), the backend's position (its encoding of the last key returned) and a checksum.
// The checksum is not a secret: it catches a token that was cut, altered or made up, and the
// digest catches one reused with other filters. A forged but well-formed token could only start
// a scan at another key of a dataset the caller may already page through, so no key is needed,
// and tokens stay valid across adapter restarts and replicas. Stateless; thread-safe.

std::string EncodePageToken(const Binding& binding, const std::vector<FieldFilter>& filters,
                            absl::string_view position);

// The position carried by `token`; kInvalidArgument when the token is not one this adapter
// issued for the same dataset and filters.
absl::StatusOr<std::string> DecodePageToken(const Binding& binding,
                                            const std::vector<FieldFilter>& filters,
                                            absl::string_view token);

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_PAGE_TOKEN_H_
