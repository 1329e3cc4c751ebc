#ifndef NDX_TESTS_TESTING_RESERVED_PORT_H_
#define NDX_TESTS_TESTING_RESERVED_PORT_H_

#include "absl/status/statusor.h"

namespace ndx::testing {

// A free port on 127.0.0.1, held for a server the test starts later (and restarts) on that port.
// The port's socket stays bound, never listening, with SO_REUSEADDR: the kernel then gives the
// port to no other bind(0) or outgoing connection, while a server whose listener sets
// SO_REUSEADDR too (etcd, NATS, gRPC) can still bind and listen on it. So ports chosen before
// their servers start race neither other tests nor each other. Move-only.
class ReservedPort {
 public:
  static absl::StatusOr<ReservedPort> Reserve();
  ReservedPort() = default;
  ReservedPort(ReservedPort&& other) noexcept : fd_(other.fd_), port_(other.port_) {
    other.fd_ = -1;
  }
  ReservedPort& operator=(ReservedPort&& other) noexcept;
  ~ReservedPort();

  int port() const { return port_; }

 private:
  ReservedPort(int fd, int port) : fd_(fd), port_(port) {}

  int fd_ = -1;
  int port_ = 0;
};

}  // namespace ndx::testing

#endif  // NDX_TESTS_TESTING_RESERVED_PORT_H_
