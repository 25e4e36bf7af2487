// Early-return helpers for absl::Status / absl::StatusOr (Debian's abseil predates
// ABSL_RETURN_IF_ERROR).
#ifndef GEARKV_STATUS_MACROS_H_
#define GEARKV_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the status of `expr` from the current function when it is not OK.
#define GEARKV_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status gearkv_status_ = (expr);          \
    if (!gearkv_status_.ok()) return gearkv_status_; \
  } while (false)

#define GEARKV_STATUS_CONCAT_INNER_(a, b) a##b
#define GEARKV_STATUS_CONCAT_(a, b) GEARKV_STATUS_CONCAT_INNER_(a, b)

// `lhs = value of expr`, or returns its status from the current function when not OK.
//   GEARKV_ASSIGN_OR_RETURN(auto block, codec.Compress(view, spec));
#define GEARKV_ASSIGN_OR_RETURN(lhs, expr) \
  GEARKV_ASSIGN_OR_RETURN_IMPL_(GEARKV_STATUS_CONCAT_(gearkv_statusor_, __LINE__), lhs, expr)
#define GEARKV_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // GEARKV_STATUS_MACROS_H_
