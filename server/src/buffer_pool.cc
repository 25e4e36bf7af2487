#include "buffer_pool.h"

#include <utility>
#include <vector>

namespace gearkv::server {

std::shared_ptr<BufferPool> BufferPool::Create(uint64_t max_cached_bytes) {
  return std::shared_ptr<BufferPool>(new BufferPool(max_cached_bytes));
}

BufferPool::~BufferPool() {
  for (const auto& [capacity, buffer] : idle_) delete[] buffer;
}

std::shared_ptr<char[]> BufferPool::Take(uint64_t bytes) {
  char* buffer = nullptr;
  uint64_t capacity = bytes;
  {
    MutexLock lock(&mu_);
    if (auto it = idle_.lower_bound(bytes); it != idle_.end() && it->first / 2 <= bytes) {
      capacity = it->first;
      buffer = it->second;
      cached_bytes_ -= capacity;
      idle_.erase(it);
    }
  }
  if (buffer == nullptr) buffer = new char[capacity];  // not zeroed: callers fill it
  return std::shared_ptr<char[]>(
      buffer, [pool = shared_from_this(), capacity](char* p) { pool->Return(p, capacity); });
}

void BufferPool::Return(char* buffer, uint64_t capacity) {
  std::vector<char*> dropped;  // freed outside the lock (large frees are munmap calls)
  {
    MutexLock lock(&mu_);
    if (capacity > max_cached_bytes_) {
      dropped.push_back(buffer);
    } else {
      while (cached_bytes_ + capacity > max_cached_bytes_) {  // the smallest idle ones go first
        auto smallest = idle_.begin();
        cached_bytes_ -= smallest->first;
        dropped.push_back(smallest->second);
        idle_.erase(smallest);
      }
      idle_.emplace(capacity, buffer);
      cached_bytes_ += capacity;
    }
  }
  for (char* p : dropped) delete[] p;
}

uint64_t BufferPool::cached_bytes() const {
  MutexLock lock(&mu_);
  return cached_bytes_;
}

uint64_t BufferPool::cached_buffers() const {
  MutexLock lock(&mu_);
  return idle_.size();
}

}  // namespace gearkv::server
