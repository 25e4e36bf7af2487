// Reuses the large buffers that hold raw tensors (Puts being received, RAW Gets being sent).
// A fresh multi-MiB allocation is a fresh mmap whose every page faults in (and is zeroed by the
// kernel) on first touch and is unmapped on free, a cost paid again by every call. Buffers handed
// back are kept, up to a byte cap, and given to later calls of a similar size.
//
// Thread-safety: every method may be called from any thread; a buffer goes back to the pool
// when its last shared_ptr is dropped, on whichever thread that happens (the pool lives until
// then: each buffer holds a reference to it).
#ifndef GEARKV_SERVER_SRC_BUFFER_POOL_H_
#define GEARKV_SERVER_SRC_BUFFER_POOL_H_

#include <cstdint>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "gearkv/base/mutex.h"

namespace gearkv::server {

class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  // Keeps at most `max_cached_bytes` of idle buffers.
  static std::shared_ptr<BufferPool> Create(uint64_t max_cached_bytes);
  ~BufferPool();

  // A buffer of at least `bytes` bytes, contents unspecified: an idle one whose capacity is
  // between `bytes` and twice that when there is one, else a new one. It returns to the pool
  // when the last copy of the pointer is dropped (or is freed when the pool is full: the
  // smallest idle buffers make room for a larger one).
  std::shared_ptr<char[]> Take(uint64_t bytes);

  uint64_t cached_bytes() const;
  uint64_t cached_buffers() const;

 private:
  explicit BufferPool(uint64_t max_cached_bytes) : max_cached_bytes_(max_cached_bytes) {}
  void Return(char* buffer, uint64_t capacity);

  const uint64_t max_cached_bytes_;
  mutable Mutex mu_;
  std::multimap<uint64_t, char*> idle_ ABSL_GUARDED_BY(mu_);  // capacity -> buffer
  uint64_t cached_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_BUFFER_POOL_H_
