#ifndef NDX_GATEWAY_PROJECTION_H_
#define NDX_GATEWAY_PROJECTION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace ndx::gateway {

// Keeps, from a serialized protobuf message, only the top-level fields whose numbers are in
// `allowed` (ascending), and drops every other field, known to the schema or not. It works on the
// wire format, so the record is neither parsed into a message nor re-serialized: the bytes of
// kept fields are copied unchanged. A record that is not valid wire format is kInternal.
// Thread-safe (pure function).
absl::StatusOr<std::string> ProjectFields(absl::string_view record, absl::Span<const int> allowed);

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_PROJECTION_H_
