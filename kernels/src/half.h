// fp16 / bf16 <-> fp32 conversions for the CPU backend. Values travel as uint16_t bit patterns;
// fp16 goes through the compiler's _Float16 (F16C instructions under x86-64-v3, vectorisable),
// bf16 through bit shifts with round-to-nearest-even.
#ifndef GEARKV_KERNELS_HALF_H_
#define GEARKV_KERNELS_HALF_H_

#include <bit>
#include <cstdint>

namespace gearkv::internal {

inline float HalfToFloat(uint16_t h) { return static_cast<float>(std::bit_cast<_Float16>(h)); }
inline uint16_t FloatToHalf(float f) { return std::bit_cast<uint16_t>(static_cast<_Float16>(f)); }
// fp32 rounded to the nearest fp16 value, as fp32.
inline float RoundToHalf(float f) { return static_cast<float>(static_cast<_Float16>(f)); }

inline float BFloat16ToFloat(uint16_t b) { return std::bit_cast<float>(uint32_t{b} << 16); }
inline uint16_t FloatToBFloat16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_HALF_H_
