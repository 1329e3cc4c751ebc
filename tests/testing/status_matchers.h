#ifndef NDX_TESTS_TESTING_STATUS_MATCHERS_H_
#define NDX_TESTS_TESTING_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ndx::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// StatusIs(code) and StatusIs(code, message_matcher) for absl::Status and absl::StatusOr<T>.
MATCHER_P2(StatusIs, code, message_matcher,
           std::string("has status code ") + absl::StatusCodeToString(code)) {
  const absl::Status& status = ::ndx::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

MATCHER_P(StatusIs, code, std::string("has status code ") + absl::StatusCodeToString(code)) {
  const absl::Status& status = ::ndx::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code;
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = ::ndx::testing::GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.ok();
}

// IsOkAndHolds(value_matcher) for absl::StatusOr<T>.
MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a value that matches") {
  *result_listener << "whose status is " << arg.status();
  return arg.ok() && ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace ndx::testing

#endif  // NDX_TESTS_TESTING_STATUS_MATCHERS_H_
