#ifndef NDX_COMMON_GRPC_STATUS_H_
#define NDX_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace ndx {

// absl::Status codes are gRPC's codes, so the conversion keeps code and message unchanged.
// Payloads under google.rpc's type URLs (common/retry_delay.h) travel as the error details of
// the standard "grpc-status-details-bin" trailer, a serialized google.rpc.Status, both ways.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace ndx

#endif  // NDX_COMMON_GRPC_STATUS_H_
