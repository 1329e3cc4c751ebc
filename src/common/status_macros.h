#ifndef NDX_COMMON_STATUS_MACROS_H_
#define NDX_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Debian's Abseil (20220623) ships neither RETURN_IF_ERROR nor ASSIGN_OR_RETURN.

#define NDX_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status ndx_status_ = (expr);       \
    if (!ndx_status_.ok()) return ndx_status_; \
  } while (0)

#define NDX_STATUS_CONCAT_INNER_(a, b) a##b
#define NDX_STATUS_CONCAT_(a, b) NDX_STATUS_CONCAT_INNER_(a, b)

#define NDX_ASSIGN_OR_RETURN(lhs, expr) \
  NDX_ASSIGN_OR_RETURN_IMPL_(NDX_STATUS_CONCAT_(ndx_statusor_, __LINE__), lhs, expr)

#define NDX_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)    \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // NDX_COMMON_STATUS_MACROS_H_
