#include "cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace gearkv::internal {

void ParallelFor(uint64_t n, int threads, const std::function<void(uint64_t)>& fn) {
  uint64_t workers = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  workers = std::min<uint64_t>(workers, n);
  if (workers <= 1) {
    for (uint64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<uint64_t> next{0};
  auto work = [&] {
    for (uint64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::jthread> pool;
  pool.reserve(workers - 1);
  for (uint64_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
}

}  // namespace gearkv::internal
