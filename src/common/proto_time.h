#ifndef NDX_COMMON_PROTO_TIME_H_
#define NDX_COMMON_PROTO_TIME_H_

#include <string>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace ndx {

// Conversions between google.protobuf.Timestamp (the wire) and absl::Time (the arithmetic).
// An unset Timestamp is the Unix epoch, which every expiry check treats as long past.
absl::Time FromProtoTime(const google::protobuf::Timestamp& timestamp);
google::protobuf::Timestamp ToProtoTime(absl::Time time);
// RFC 3339 in UTC, e.g. "2026-01-31T12:00:00Z", for messages that people read.
std::string FormatRfc3339(absl::Time time);

}  // namespace ndx

#endif  // NDX_COMMON_PROTO_TIME_H_
