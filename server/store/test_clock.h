// A manually advanced clock for tests of expiry (internal, tests only).
#ifndef GEARKV_STORE_TEST_CLOCK_H_
#define GEARKV_STORE_TEST_CLOCK_H_

#include <functional>

#include "absl/time/time.h"
#include "gearkv/store/internal/mutex.h"

namespace gearkv::store::testing {

class TestClock {
 public:
  absl::Time Now() const {
    internal::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    internal::MutexLock lock(&mu_);
    now_ += d;
  }
  // A clock function reading this object, which must outlive it.
  std::function<absl::Time()> AsFunction() const {
    return [this] { return Now(); };
  }

 private:
  mutable internal::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1'700'000'000);
};

}  // namespace gearkv::store::testing

#endif  // GEARKV_STORE_TEST_CLOCK_H_
