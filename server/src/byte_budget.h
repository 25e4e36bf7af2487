// A byte budget shared by concurrent calls: the raw tensors the service holds at once (Puts
// being received or compressed, RAW Gets being decompressed or sent). A call acquires its
// tensor's size before allocating it and releases it when the buffer is freed; an acquisition
// that would pass the limit fails, and the call answers RESOURCE_EXHAUSTED.
//
// Thread-safety: lock-free; every method may be called from any thread.
#ifndef GEARKV_SERVER_SRC_BYTE_BUDGET_H_
#define GEARKV_SERVER_SRC_BYTE_BUDGET_H_

#include <atomic>
#include <cstdint>

namespace gearkv::server {

class ByteBudget {
 public:
  explicit ByteBudget(uint64_t limit) : limit_(limit) {}

  // Takes `bytes` from the budget; false (and nothing taken) when that would pass the limit.
  bool TryAcquire(uint64_t bytes) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit_ || used > limit_ - bytes) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }
  void Release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_BYTE_BUDGET_H_
