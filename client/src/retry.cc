#include "retry.h"

#include <algorithm>

namespace gearkv::client_internal {

Backoff::Backoff(const ClientOptions& options, uint64_t seed)
    : next_(options.initial_backoff),
      max_(options.max_backoff),
      multiplier_(std::max(1.0, options.backoff_multiplier)),
      rng_(seed) {}

absl::Duration Backoff::Next() {
  const absl::Duration d = std::min(next_, max_);
  next_ = std::min(next_ * multiplier_, max_);
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return d * jitter(rng_);
}

bool IsRetryable(absl::StatusCode code, const ClientOptions& options) {
  return code == absl::StatusCode::kUnavailable ||
         (options.retry_resource_exhausted && code == absl::StatusCode::kResourceExhausted);
}

}  // namespace gearkv::client_internal
