// Device helpers of the CUDA backend: element conversions bit-compatible with the CPU backend
// (half.h), order-preserving keys for selection, and warp reductions.
#ifndef GEARKV_KERNELS_CUDA_DEVICE_UTIL_CUH_
#define GEARKV_KERNELS_CUDA_DEVICE_UTIL_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "gear_launch.h"

namespace gearkv::internal::cuda {

inline constexpr unsigned kFullMask = 0xffffffffu;
inline constexpr float kHalfMax = 65504.0f;

__device__ __forceinline__ uint32_t LaneId() { return threadIdx.x & 31u; }
__device__ __forceinline__ uint32_t WarpId() { return threadIdx.x >> 5; }
// Bits of the lanes below this one.
__device__ __forceinline__ unsigned LanesBelow() { return (1u << LaneId()) - 1u; }

__device__ __forceinline__ float QuietNaN() { return __int_as_float(0x7fc00000); }

// fp16 / bf16 bit patterns <-> fp32, rounding to nearest even like half.h.
__device__ __forceinline__ float HalfBitsToFloat(uint16_t h) {
  return __half2float(__ushort_as_half(h));
}
__device__ __forceinline__ uint16_t FloatToHalfBits(float f) {
  return __half_as_ushort(__float2half_rn(f));
}
__device__ __forceinline__ float RoundToHalfDevice(float f) {
  return __half2float(__float2half_rn(f));
}
__device__ __forceinline__ float BFloat16BitsToFloat(uint16_t b) {
  return __uint_as_float(uint32_t{b} << 16);
}
__device__ __forceinline__ uint16_t FloatToBFloat16Bits(float f) {  // = half.h FloatToBFloat16
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// Element i of an array of `type` as fp32.
__device__ __forceinline__ float LoadElement(const void* base, ElemType type, uint64_t i) {
  switch (type) {
    case ElemType::kF16:
      return HalfBitsToFloat(static_cast<const uint16_t*>(base)[i]);
    case ElemType::kBF16:
      return BFloat16BitsToFloat(static_cast<const uint16_t*>(base)[i]);
    default:
      return static_cast<const float*>(base)[i];
  }
}

__device__ __forceinline__ void StoreElement(void* base, ElemType type, uint64_t i, float v) {
  switch (type) {
    case ElemType::kF16:
      static_cast<uint16_t*>(base)[i] = FloatToHalfBits(v);
      return;
    case ElemType::kBF16:
      static_cast<uint16_t*>(base)[i] = FloatToBFloat16Bits(v);
      return;
    default:
      static_cast<float*>(base)[i] = v;
      return;
  }
}

// Elements i and i + 1 (i even, so the pair is 4- or 8-byte aligned) as fp32.
__device__ __forceinline__ float2 LoadPair(const void* base, ElemType type, uint64_t i) {
  switch (type) {
    case ElemType::kF16:
      return __half22float2(reinterpret_cast<const __half2*>(base)[i / 2]);
    case ElemType::kBF16: {
      const uint32_t w = reinterpret_cast<const uint32_t*>(base)[i / 2];
      return make_float2(__uint_as_float(w << 16), __uint_as_float(w & 0xffff0000u));
    }
    default:
      return reinterpret_cast<const float2*>(base)[i / 2];
  }
}

// A key whose unsigned order is the order of the floats (-0 and +0 equal, as float compares
// them); NaN is never passed. Every finite float maps above 0, so 0 can mark "no entry".
__device__ __forceinline__ uint32_t OrderedKey(float v) {
  uint32_t u = __float_as_uint(v);
  if (u == 0x80000000u) u = 0;  // -0 -> +0
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ uint32_t WarpMax(uint32_t v) {
#if __CUDA_ARCH__ >= 800
  return __reduce_max_sync(kFullMask, v);
#else
  for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
#endif
}

// Sum over the warp in a fixed order (a butterfly), the same on every lane.
__device__ __forceinline__ double WarpSum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

}  // namespace gearkv::internal::cuda

#endif  // GEARKV_KERNELS_CUDA_DEVICE_UTIL_CUH_
