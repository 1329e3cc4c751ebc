#ifndef NDX_COMMON_CLOCK_H_
#define NDX_COMMON_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ndx {

// The source of the current time, so that tests can decide what "now" is (grant expiry).
// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The process-wide real-time clock.
  static const Clock& Real();
};

}  // namespace ndx

#endif  // NDX_COMMON_CLOCK_H_
