// A bounded parallel loop for the CPU backend.
#ifndef GEARKV_KERNELS_CPU_PARALLEL_H_
#define GEARKV_KERNELS_CPU_PARALLEL_H_

#include <cstdint>
#include <functional>

namespace gearkv::internal {

// Runs fn(i) for every i in [0, n) on at most `threads` threads (0 = every hardware thread;
// never more than the hardware threads) and returns when all are done. The calling thread is
// one of them, the others come from a pool kept for the process, shared by concurrent calls
// (a call whose helpers are busy elsewhere runs more of its loop itself). fn must be safe to
// call concurrently for different i.
void ParallelFor(uint64_t n, int threads, const std::function<void(uint64_t)>& fn);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_PARALLEL_H_
