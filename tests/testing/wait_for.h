#ifndef NDX_TESTS_TESTING_WAIT_FOR_H_
#define NDX_TESTS_TESTING_WAIT_FOR_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ndx::testing {

// Polls `condition` every few milliseconds until it holds or `timeout` passes; whether it held.
// For what another process or thread does in its own time: a bound on waiting, not a measure.
inline bool WaitFor(const std::function<bool()>& condition,
                    absl::Duration timeout = absl::Seconds(15)) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

}  // namespace ndx::testing

#endif  // NDX_TESTS_TESTING_WAIT_FOR_H_
