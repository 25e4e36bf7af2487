#include "cpu/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace gearkv::internal {
namespace {

bool CpuHasAvx512() {
#ifdef GEARKV_HAVE_AVX512
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

bool Avx512ByDefault() {
  const char* env = std::getenv("GEARKV_CPU_AVX512");
  return CpuHasAvx512() && !(env != nullptr && std::strcmp(env, "0") == 0);
}

std::atomic<bool> allowed_for_testing{true};

}  // namespace

bool UseAvx512() {
  static const bool by_default = Avx512ByDefault();
  return by_default && allowed_for_testing.load(std::memory_order_relaxed);
}

void SetAvx512ForTesting(bool allowed) {
  allowed_for_testing.store(allowed, std::memory_order_relaxed);
}

}  // namespace gearkv::internal
