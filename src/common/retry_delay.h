#ifndef NDX_COMMON_RETRY_DELAY_H_
#define NDX_COMMON_RETRY_DELAY_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace ndx {

// A refusal for overload tells its caller when to try again: a google.rpc.RetryInfo carried as
// the status's payload (under its type URL), which ToGrpcStatus sends in the standard
// "grpc-status-details-bin" trailer and the gateway's other faces turn into a header of their
// own ("retry-after-ms" on gRPC, Retry-After on HTTP).

// The metadata key of the delay in whole milliseconds, for clients without google.rpc's protos.
inline constexpr char kRetryAfterMsTrailer[] = "retry-after-ms";

// `status` with `delay` as its retry delay (negative delays are taken as zero).
// REQUIRES: !status.ok().
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

// The retry delay `status` carries; nullopt when it carries none (or one that does not parse).
std::optional<absl::Duration> RetryDelayOf(const absl::Status& status);

// `delay` in whole milliseconds, rounded up: a client that waits that long finds a token back.
int64_t RetryDelayMillis(absl::Duration delay);

}  // namespace ndx

#endif  // NDX_COMMON_RETRY_DELAY_H_
