// fp16 / bf16 <-> fp32 conversions for the CPU backend. Values travel as uint16_t bit patterns.
// fp16 uses the F16C instructions (x86-64-v3) when the target has them and a bit-exact software
// conversion otherwise (round to nearest even both ways); bf16 uses shifts.
#ifndef GEARKV_KERNELS_HALF_H_
#define GEARKV_KERNELS_HALF_H_

#include <bit>
#include <cstdint>

#ifdef __F16C__
#include <immintrin.h>
#endif

namespace gearkv::internal {

// Bit-exact software conversions (round to nearest even), for targets without F16C.
inline float SoftwareHalfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf, NaN
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float f = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -f : f;
  }
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

inline uint16_t SoftwareFloatToHalf(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds to infinity
  if (abs < 0x38800000u) {                        // subnormal or zero in fp16
    // Scale so that one fp16 subnormal step is 1.0, then round to nearest even in float.
    const float scaled = std::bit_cast<float>(abs) * 16777216.0f;
    const float rounded = (scaled + 8388608.0f) - 8388608.0f;  // exact: scaled < 2^10
    return sign | static_cast<uint16_t>(rounded);
  }
  const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);  // nearest even at bit 13
  return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
}

inline float HalfToFloat(uint16_t h) {
#ifdef __F16C__
  return _cvtsh_ss(h);
#else
  return SoftwareHalfToFloat(h);
#endif
}

inline uint16_t FloatToHalf(float f) {
#ifdef __F16C__
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
#else
  return SoftwareFloatToHalf(f);
#endif
}

// fp32 rounded to the nearest fp16 value, as fp32.
inline float RoundToHalf(float f) { return HalfToFloat(FloatToHalf(f)); }

inline float BFloat16ToFloat(uint16_t b) { return std::bit_cast<float>(uint32_t{b} << 16); }
inline uint16_t FloatToBFloat16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_HALF_H_
