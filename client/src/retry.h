// The client's retry policy (documented in gearkv/client.h; the Python client's retry.py is
// the same): deadline-bounded retries with capped exponential backoff and jitter.
// Internal to gearkv_client.
#ifndef GEARKV_CLIENT_SRC_RETRY_H_
#define GEARKV_CLIENT_SRC_RETRY_H_

#include <cstdint>
#include <random>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gearkv/client.h"

namespace gearkv::client_internal {

// The delays between attempts: initial, initial*m, initial*m^2, ... capped at max, each drawn
// uniformly from [d/2, d] so that many clients retrying at once spread out.
// Not thread-safe; one per call.
class Backoff {
 public:
  Backoff(const ClientOptions& options, uint64_t seed);
  absl::Duration Next();

 private:
  absl::Duration next_;
  absl::Duration max_;
  double multiplier_;
  std::mt19937_64 rng_;
};

// Whether a failed attempt with `code` may be retried under `options`.
bool IsRetryable(absl::StatusCode code, const ClientOptions& options);

// Calls `attempt(deadline)` until it succeeds, fails with a code that is not retryable, has run
// options.max_attempts times, or the next backoff would pass `deadline`. Returns the last
// answer; a retried failure's message says how many attempts were made.
template <typename Attempt>
auto RunWithRetry(const ClientOptions& options, absl::Time deadline, Attempt&& attempt)
    -> decltype(attempt(deadline)) {
  Backoff backoff(options, static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
  for (int n = 1;; ++n) {
    auto result = attempt(deadline);
    absl::Status status;
    if constexpr (std::is_same_v<decltype(result), absl::Status>) {
      status = result;
    } else {
      status = result.status();
    }
    if (status.ok() || !IsRetryable(status.code(), options)) return result;
    const absl::Duration wait = backoff.Next();
    if (n >= options.max_attempts || absl::Now() + wait >= deadline) {
      if (n == 1) return result;
      return absl::Status(status.code(),
                          absl::StrCat(status.message(), " (after ", n, " attempts)"));
    }
    absl::SleepFor(wait);
  }
}

}  // namespace gearkv::client_internal

#endif  // GEARKV_CLIENT_SRC_RETRY_H_
