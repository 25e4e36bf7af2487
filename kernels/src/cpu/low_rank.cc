#include "cpu/low_rank.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "cpu/cpu_features.h"
#include "cpu/dtype_convert.h"
#include "cpu/simd.h"
#include "gear_math.h"
#include "half.h"

namespace gearkv::internal {
namespace {

typedef double Double4 __attribute__((vector_size(32)));

// dot(a, b) over n floats (n a multiple of 8): products in float, sums in double, in a fixed
// order.
double Dot(const float* a, const float* b, uint32_t n) {
  Double4 lo = {}, hi = {};
  for (uint32_t e = 0; e < n; e += 8) {
    const Float8 p = Load8(a + e) * Load8(b + e);
    lo += Double4{p[0], p[1], p[2], p[3]};
    hi += Double4{p[4], p[5], p[6], p[7]};
  }
  const Double4 s = lo + hi;
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// Modified Gram-Schmidt on `count` contiguous vectors of length n (a multiple of 8), vector i
// at v + i * n. A vector that loses all but kDependent of its norm to the projections (it lies
// in the span of the previous ones: rank > tokens, or a zero residual) becomes zero; an absolute
// threshold would normalise rounding noise into a spurious direction.
constexpr double kDependent = 1e-4;

void Orthonormalize(float* v, uint32_t count, uint32_t n) {
  for (uint32_t i = 0; i < count; ++i) {
    float* vi = v + size_t{i} * n;
    const double before = Dot(vi, vi, n);
    for (uint32_t j = 0; j < i; ++j) {
      const float* vj = v + size_t{j} * n;
      const Float8 f = Broadcast8(static_cast<float>(Dot(vi, vj, n)));
      for (uint32_t e = 0; e < n; e += 8) Store8(vi + e, Load8(vi + e) - f * Load8(vj + e));
    }
    const double after = Dot(vi, vi, n);
    const bool keep = after > 0 && after > kDependent * kDependent * before;
    const Float8 scale = Broadcast8(keep ? static_cast<float>(1.0 / std::sqrt(after)) : 0.0f);
    for (uint32_t e = 0; e < n; e += 8) Store8(vi + e, Load8(vi + e) * scale);
  }
}

// The lane sums of eight vectors: lane j of the result is the sum of the lanes of a[j], in the
// fixed order ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)).
inline Float8 Sum8x8(const Float8* a) {
  auto hadd = [](Float8 x, Float8 y) {
    return __builtin_shufflevector(x, y, 0, 2, 8, 10, 4, 6, 12, 14) +
           __builtin_shufflevector(x, y, 1, 3, 9, 11, 5, 7, 13, 15);
  };
  const Float8 lo = hadd(hadd(a[0], a[1]), hadd(a[2], a[3]));
  const Float8 hi = hadd(hadd(a[4], a[5]), hadd(a[6], a[7]));
  // lo = [sums 0..3 of lanes 0-3 | sums 0..3 of lanes 4-7], hi likewise for 4..7.
  return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 8, 9, 10, 11) +
         __builtin_shufflevector(lo, hi, 4, 5, 6, 7, 12, 13, 14, 15);
}

// Calls block(std::integral_constant<int, kR>{}, j0) for the rank columns in blocks of kR <= 4
// consecutive ones (j0 .. j0 + kR - 1), so that a block's accumulators stay in registers.
template <typename Block>
void OverRankBlocks(uint32_t rank, Block&& block) {
  for (uint32_t j0 = 0; j0 < rank; j0 += 4) {
    switch (std::min(4u, rank - j0)) {
      case 1:
        block(std::integral_constant<int, 1>{}, j0);
        break;
      case 2:
        block(std::integral_constant<int, 2>{}, j0);
        break;
      case 3:
        block(std::integral_constant<int, 3>{}, j0);
        break;
      default:
        block(std::integral_constant<int, 4>{}, j0);
        break;
    }
  }
}

// MultiplyRP and MultiplyRtQ for x86-64-v3's 16 vector registers.
namespace regs16 {
constexpr uint32_t kRowsPerPass = 2, kVecsPerPass = 2;
#include "cpu/subspace_products.inc"
}  // namespace regs16

#ifdef GEARKV_HAVE_AVX512
// The same with AVX-512VL's 32 registers (still 256-bit instructions), used only where the CPU
// has it. In an anonymous namespace, so nothing compiled for AVX-512 can stand in for a function
// the x86-64-v3 code calls.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl")
namespace regs32 {
constexpr uint32_t kRowsPerPass = 4, kVecsPerPass = 4;
#include "cpu/subspace_products.inc"
}  // namespace regs32
#pragma GCC pop_options
#endif

// Quantizes the n floats at v (one factor vector) to int8 at q (stride q_stride) with one scale,
// returned as fp16 bits, and replaces each float by its dequantized value.
uint16_t QuantizeFactorVector(float* v, uint32_t n, int8_t* q, size_t q_stride) {
  // max |v[i]|, eight lanes at a time (a maximum is exact in any order).
  Float8 lanes = Broadcast8(0.0f);
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const Float8 a = (Float8)((Int8x32)Load8(v + i) & 0x7fffffff);  // |v|
    lanes = a > lanes ? a : lanes;
  }
  float max_abs = 0.0f;
  for (int lane = 0; lane < 8; ++lane) max_abs = std::max(max_abs, lanes[lane]);
  for (; i < n; ++i) max_abs = std::max(max_abs, std::abs(v[i]));
  const float scale = FactorScale(max_abs), inv = FactorInvScale(scale);
  for (i = 0; i < n; ++i) {
    const int8_t qi = QuantizeFactor(v[i], inv);
    q[i * q_stride] = qi;
    v[i] = DequantizeFactor(qi, scale);
  }
  return FloatToHalf(scale);  // exact: the scale is an fp16 value
}

}  // namespace

void FitLowRank(const float* r, uint32_t T, uint32_t D, uint32_t rank, uint32_t iterations,
                uint32_t seed, uint64_t head_index, int8_t* u, uint16_t* u_scales, uint16_t* vt) {
  // Q column by column, each padded with zeros to a multiple of 8 tokens (whole Float8s).
  const uint32_t ldq = (T + 7) / 8 * 8;
  thread_local std::vector<float> pt_buf, qt_buf;
  float* pt = CacheLineAligned(pt_buf, size_t{rank} * D);
  float* qt = CacheLineAligned(qt_buf, size_t{rank} * ldq);
  std::fill(qt, qt + size_t{rank} * ldq, 0.0f);
  // The products (subspace_products.inc) on the kernels this CPU runs.
  auto* multiply_rp = &regs16::MultiplyRP;
  auto* multiply_rtq = &regs16::MultiplyRtQ;
#ifdef GEARKV_HAVE_AVX512
  if (UseAvx512()) multiply_rp = &regs32::MultiplyRP, multiply_rtq = &regs32::MultiplyRtQ;
#endif
  const uint64_t stream = StartMatrixStream(seed, head_index);
  for (uint32_t j = 0; j < rank; ++j) {
    for (uint32_t d = 0; d < D; ++d) pt[size_t{j} * D + d] = StartMatrixEntry(stream, d, j, rank);
  }
  for (uint32_t it = 0; it < iterations; ++it) {
    Orthonormalize(pt, rank, D);
    multiply_rp(r, T, D, pt, ldq, rank, qt);
    Orthonormalize(qt, rank, ldq);
    if (it + 1 == iterations) {  // V is fitted to the U that is stored: Q as int8 per column
      for (uint32_t j = 0; j < rank; ++j) {  // u is [token][rank], Q column by column
        u_scales[j] = QuantizeFactorVector(qt + size_t{j} * ldq, T, u + j, rank);
      }
    }
    multiply_rtq(r, T, D, qt, ldq, rank, pt);
  }
  StoreFromFloat(pt, size_t{rank} * D, DType::kFloat16, vt);
}

}  // namespace gearkv::internal
