#include "random_tensor.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <random>

namespace gearkv::cli {

uint16_t FloatToHalfBits(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {                                               // subnormal half (or zero)
    // value * 2^24 rounded to nearest even is the subnormal's mantissa.
    const float scaled = std::bit_cast<float>(abs) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  const uint32_t mantissa_odd = (abs >> 13) & 1u;
  const uint32_t rounded = abs + 0xfffu + mantissa_odd;
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

float HalfBitsToFloat(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t FloatToBFloat16Bits(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  if ((f & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((f >> 16) | 0x40u);
  return static_cast<uint16_t>((f + 0x7fffu + ((f >> 16) & 1u)) >> 16);
}

float BFloat16BitsToFloat(uint16_t bits) { return std::bit_cast<float>(uint32_t{bits} << 16); }

Tensor GaussianKvTensor(const TensorShape& shape, DType dtype, uint64_t seed, float stddev) {
  Tensor t = MakeKvTensor(shape, dtype);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  const uint64_t n = shape.NumElements();
  char* out = t.data.data();
  for (uint64_t i = 0; i < n; ++i) {
    const float v = normal(rng);
    if (dtype == DType::kFloat32) {
      std::memcpy(out + 4 * i, &v, 4);
    } else {
      const uint16_t h = dtype == DType::kFloat16 ? FloatToHalfBits(v) : FloatToBFloat16Bits(v);
      std::memcpy(out + 2 * i, &h, 2);
    }
  }
  return t;
}

float ElementAsFloat(const Tensor& tensor, uint64_t i) {
  if (tensor.dtype == DType::kFloat32) {
    float v;
    std::memcpy(&v, tensor.data.data() + 4 * i, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, tensor.data.data() + 2 * i, 2);
  return tensor.dtype == DType::kFloat16 ? HalfBitsToFloat(h) : BFloat16BitsToFloat(h);
}

}  // namespace gearkv::cli
