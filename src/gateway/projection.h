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

// The value of top-level field `number` in a serialized record, as text: the bytes of a
// length-delimited field (string, bytes), the decimal value of a varint (integers as int64, bool
// as 0/1). Empty when the record does not set it. The last occurrence wins, as in a parse. Used
// to name a record's data subject for the audit log without parsing the record; a record that is
// not valid wire format is kInternal. Thread-safe.
absl::StatusOr<std::string> FieldAsText(absl::string_view record, int number);

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_PROJECTION_H_
