// A manually advanced clock for tests of expiry (internal, tests only).
#ifndef GEARKV_STORE_TEST_CLOCK_H_
#define GEARKV_STORE_TEST_CLOCK_H_

#include <functional>

#include "absl/time/time.h"
#include "gearkv/base/mutex.h"

namespace gearkv::store::testing {

class TestClock {
 public:
  absl::Time Now() const {
    MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    MutexLock lock(&mu_);
    now_ += d;
  }
  // A clock function reading this object, which must outlive it.
  std::function<absl::Time()> AsFunction() const {
    return [this] { return Now(); };
  }

 private:
  mutable Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1'700'000'000);
};

}  // namespace gearkv::store::testing

#endif  // GEARKV_STORE_TEST_CLOCK_H_
