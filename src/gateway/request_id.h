#ifndef NDX_GATEWAY_REQUEST_ID_H_
#define NDX_GATEWAY_REQUEST_ID_H_

#include <string>

namespace ndx::gateway {

// A new request id: 32 lower-case hex characters (128 random bits), unique across restarts and
// replicas without coordination. Thread-safe.
std::string NewRequestId();

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_REQUEST_ID_H_
