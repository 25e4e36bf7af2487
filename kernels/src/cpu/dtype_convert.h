// Row conversions between a tensor's dtype and fp32 for the CPU backend (F16C for fp16 where
// the target has it, vectorisable loops otherwise).
#ifndef GEARKV_KERNELS_CPU_DTYPE_CONVERT_H_
#define GEARKV_KERNELS_CPU_DTYPE_CONVERT_H_

#include <cstdint>
#include <cstring>

#include "gearkv/tensor.h"
#include "half.h"

#ifdef __F16C__
#include <immintrin.h>
#endif

namespace gearkv::internal {

// dst[i] = src[i] as fp32 for i < n; src holds n elements of `dtype`.
inline void LoadAsFloat(const void* src, DType dtype, uint64_t n, float* dst) {
  switch (dtype) {
    case DType::kFloat16: {
      const auto* s = static_cast<const uint16_t*>(src);
      uint64_t i = 0;
#ifdef __F16C__
      for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(dst + i,
                         _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
      }
#endif
      for (; i < n; ++i) dst[i] = HalfToFloat(s[i]);
      return;
    }
    case DType::kBFloat16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (uint64_t i = 0; i < n; ++i) dst[i] = BFloat16ToFloat(s[i]);
      return;
    }
    case DType::kFloat32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
  }
}

// dst[i] = src[i] rounded to `dtype` (round to nearest even) for i < n.
inline void StoreFromFloat(const float* src, uint64_t n, DType dtype, void* dst) {
  switch (dtype) {
    case DType::kFloat16: {
      auto* d = static_cast<uint16_t*>(dst);
      uint64_t i = 0;
#ifdef __F16C__
      for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
      }
#endif
      for (; i < n; ++i) d[i] = FloatToHalf(src[i]);
      return;
    }
    case DType::kBFloat16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (uint64_t i = 0; i < n; ++i) d[i] = FloatToBFloat16(src[i]);
      return;
    }
    case DType::kFloat32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
  }
}

// One element of `dtype` at `src` as fp32.
inline float LoadOne(const void* src, DType dtype) {
  float f;
  LoadAsFloat(src, dtype, 1, &f);
  return f;
}

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_DTYPE_CONVERT_H_
