#include "cpu/quantize.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "cpu/simd.h"
#include "half.h"

namespace gearkv::internal {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Group parameters from its range (mn, mx): zero = fp16(mn), scale = fp16((mx - zero) / L).
// An empty group (every entry an outlier) has mn = inf: it gets zero = scale = 0.
inline void GroupParams(float mn, float mx, float max_code, uint16_t* zero_h, uint16_t* scale_h,
                        float* zero, float* scale, float* inv_scale) {
  if (!(mn <= mx)) mn = mx = 0.0f;
  *zero = RoundToHalf(mn);
  *scale = RoundToHalf(std::max(0.0f, (mx - *zero) / max_code));
  *zero_h = FloatToHalf(*zero);
  *scale_h = FloatToHalf(*scale);
  *inv_scale = *scale > 0.0f ? 1.0f / *scale : 0.0f;
}

// GroupParams of groups i < n, eight at a time where F16C converts them.
void GroupParamsN(const float* mn, const float* mx, uint32_t n, float max_code, uint16_t* zero_h,
                  uint16_t* scale_h, float* zero, float* scale, float* inv) {
  uint32_t i = 0;
#ifdef __F16C__
  const Float8 zero8 = Broadcast8(0.0f), one8 = Broadcast8(1.0f), l8 = Broadcast8(max_code);
  for (; i + 8 <= n; i += 8) {
    const auto ok = Load8(mn + i) <= Load8(mx + i);  // false for an empty group
    const Float8 lo = ok ? Load8(mn + i) : zero8, hi = ok ? Load8(mx + i) : zero8;
    const __m128i zh = _mm256_cvtps_ph((__m256)lo, _MM_FROUND_TO_NEAREST_INT);
    const Float8 z = (Float8)_mm256_cvtph_ps(zh);
    Float8 sc = (hi - z) / l8;
    sc = sc > zero8 ? sc : zero8;
    const __m128i sh = _mm256_cvtps_ph((__m256)sc, _MM_FROUND_TO_NEAREST_INT);
    const Float8 s = (Float8)_mm256_cvtph_ps(sh);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(zero_h + i), zh);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(scale_h + i), sh);
    Store8(zero + i, z);
    Store8(scale + i, s);
    Store8(inv + i, s > zero8 ? one8 / s : zero8);
  }
#endif
  for (; i < n; ++i) {
    GroupParams(mn[i], mx[i], max_code, &zero_h[i], &scale_h[i], &zero[i], &scale[i], &inv[i]);
  }
}

// Minimum and maximum of p[0, n), NaN entries (outliers) skipped; +inf / -inf when all are.
inline void RangeSkippingNaN(const float* p, uint32_t n, float* lo, float* hi) {
  uint32_t i = 0;
  if (n >= 8) {
    Float8 vlo = Broadcast8(kInf), vhi = Broadcast8(-kInf);
    for (; i + 8 <= n; i += 8) {
      const Float8 v = Load8(p + i);
      vlo = v < vlo ? v : vlo;  // NaN compares false: skipped
      vhi = v > vhi ? v : vhi;
    }
    *lo = MinLanes8(vlo);  // no lane is NaN
    *hi = MaxLanes8(vhi);
  }
  for (; i < n; ++i) {
    *lo = p[i] < *lo ? p[i] : *lo;
    *hi = p[i] > *hi ? p[i] : *hi;
  }
}

// Per channel d < D of rows x[0, rows) (D floats each, D a multiple of 8), the minimum and
// maximum skipping NaN (outliers): +inf / -inf when all are. kStrips Float8 strips of channels
// go down the rows together, so that 2 kStrips independent min/max chains hide the latency.
template <int kStrips>
void ChannelRangesOf(const float* x, uint32_t rows, uint32_t D, uint32_t d0, float* mn, float* mx) {
  Float8 lo[kStrips], hi[kStrips];
  for (int s = 0; s < kStrips; ++s) lo[s] = Broadcast8(kInf), hi[s] = Broadcast8(-kInf);
  for (uint32_t t = 0; t < rows; ++t) {
    for (int s = 0; s < kStrips; ++s) {
      const Float8 v = Load8(x + size_t{t} * D + d0 + 8 * s);
      lo[s] = v < lo[s] ? v : lo[s];  // NaN compares false: skipped
      hi[s] = v > hi[s] ? v : hi[s];
    }
  }
  for (int s = 0; s < kStrips; ++s) {
    Store8(mn + d0 + 8 * s, lo[s]);
    Store8(mx + d0 + 8 * s, hi[s]);
  }
}

void ChannelRanges(const float* x, uint32_t rows, uint32_t D, float* mn, float* mx) {
  uint32_t d0 = 0;
  for (; d0 + 32 <= D; d0 += 32) ChannelRangesOf<4>(x, rows, D, d0, mn, mx);
  for (; d0 < D; d0 += 8) ChannelRangesOf<1>(x, rows, D, d0, mn, mx);
}

// Group parameters for every channel (keys: one group per channel in a token group; values
// whose group size is not a multiple of 8).
struct PerChannel {
  const float *zero, *scale, *inv;
  Float8 Zero(uint32_t d) const { return Load8(zero + d); }
  Float8 Scale(uint32_t d) const { return Load8(scale + d); }
  Float8 Inv(uint32_t d) const { return Load8(inv + d); }
};
// One group's parameters for a span of channels.
struct PerSpan {
  Float8 zero, scale, inv;
  Float8 Zero(uint32_t) const { return zero; }
  Float8 Scale(uint32_t) const { return scale; }
  Float8 Inv(uint32_t) const { return inv; }
};

// Quantizes channels [d0, d1) of row x (d0 and d1 multiples of 8) with group parameters p:
// QuantizeCode per entry, codes packed LSB-first into row_codes, and, when kResidual, x replaced
// by the residual x - dequantized (NaN at NaN entries, the outliers).
template <int kBits, bool kResidual, typename Params>
void QuantizeSpan(float* x, uint32_t d0, uint32_t d1, const Params& p, uint8_t* row_codes) {
  auto quantize8 = [&](uint32_t d) {
    const Float8 max_code = Broadcast8(static_cast<float>(MaxCode(kBits))), zero8 = Broadcast8(0);
    const Float8 v = Load8(x + d);
    const Float8 z = p.Zero(d), s = p.Scale(d);
    Float8 q = RoundToNearest8((v - z) * p.Inv(d));
    q = q > zero8 ? q : zero8;  // NaN compares false: NaN -> 0
    q = q < max_code ? q : max_code;
    if constexpr (kResidual) {
      const Float8 r = v - (q * s + z);
      Store8(x + d, r);  // NaN at NaN entries
    }
    return __builtin_convertvector(q, Int8x32);
  };
  uint32_t d = d0;
  for (; d + 32 <= d1; d += 32) {
    const Int8x32 c[4] = {quantize8(d), quantize8(d + 8), quantize8(d + 16), quantize8(d + 24)};
    PackCodes32<kBits>(c, row_codes + d / 8 * kBits);
  }
  for (; d < d1; d += 8) PackCodes8<kBits>(quantize8(d), row_codes + d / 8 * kBits);
}

template <int kBits, bool kResidual>
void QuantizeHeadAs(const HeadLayout& l, float* x, uint8_t* codes, uint16_t* scales,
                    uint16_t* zeros) {
  const uint32_t T = l.tokens, D = l.head_dim, G = l.group_size;
  const float max_code = static_cast<float>(MaxCode(kBits));
  thread_local std::vector<float> buf;
  float* mn = CacheLineAligned(buf, size_t{5} * D);
  float *mx = mn + D, *zero = mx + D, *scale = zero + D, *inv = scale + D;
  const PerChannel per_channel{zero, scale, inv};
  if (l.kind == Kind::kKeys) {
    // Groups: one channel over G tokens; every channel of a token group at once.
    for (uint32_t t0 = 0, g = 0; t0 < T; t0 += G, ++g) {
      const uint32_t t1 = std::min(T, t0 + G);
      ChannelRanges(x + size_t{t0} * D, t1 - t0, D, mn, mx);
      GroupParamsN(mn, mx, D, max_code, zeros + size_t{g} * D, scales + size_t{g} * D, zero, scale,
                   inv);
      for (uint32_t t = t0; t < t1; ++t) {
        QuantizeSpan<kBits, kResidual>(x + size_t{t} * D, 0, D, per_channel,
                                       codes + t * l.row_code_bytes);
      }
    }
    return;
  }
  // Values. Groups: one token over G channels, their parameters computed for a batch of rows
  // at once (at least 8 groups).
  const uint32_t groups_per_row = CeilDiv(D, G);
  const uint32_t batch = CeilDiv(8, groups_per_row);
  thread_local std::vector<float> group_buf;
  float* g_lo = CacheLineAligned(group_buf, size_t{5} * batch * groups_per_row);
  float* g_hi = g_lo + batch * groups_per_row;
  float* g_zero = g_hi + batch * groups_per_row;
  float* g_scale = g_zero + batch * groups_per_row;
  float* g_inv = g_scale + batch * groups_per_row;
  for (uint32_t t0 = 0; t0 < T; t0 += batch) {
    const uint32_t rows = std::min(batch, T - t0);
    for (uint32_t r = 0; r < rows; ++r) {
      const float* row = x + size_t{t0 + r} * D;
      for (uint32_t c = 0; c < groups_per_row; ++c) {
        const uint32_t d0 = c * G, d1 = std::min(D, d0 + G);
        float* lo = &g_lo[r * groups_per_row + c];
        float* hi = &g_hi[r * groups_per_row + c];
        *lo = kInf, *hi = -kInf;
        RangeSkippingNaN(row + d0, d1 - d0, lo, hi);
      }
    }
    const size_t g0 = size_t{t0} * groups_per_row;
    GroupParamsN(g_lo, g_hi, rows * groups_per_row, max_code, zeros + g0, scales + g0, g_zero,
                 g_scale, g_inv);
    for (uint32_t r = 0; r < rows; ++r) {
      float* row = x + size_t{t0 + r} * D;
      uint8_t* row_codes = codes + (t0 + r) * l.row_code_bytes;
      for (uint32_t c = 0; c < groups_per_row; ++c) {
        const uint32_t d0 = c * G, d1 = std::min(D, d0 + G);
        const uint32_t gi = r * groups_per_row + c;
        if (G % 8 == 0) {  // whole Float8s per group
          const PerSpan span{Broadcast8(g_zero[gi]), Broadcast8(g_scale[gi]),
                             Broadcast8(g_inv[gi])};
          QuantizeSpan<kBits, kResidual>(row, d0, d1, span, row_codes);
        } else {
          std::fill(zero + d0, zero + d1, g_zero[gi]);
          std::fill(scale + d0, scale + d1, g_scale[gi]);
          std::fill(inv + d0, inv + d1, g_inv[gi]);
        }
      }
      if (G % 8 != 0) QuantizeSpan<kBits, kResidual>(row, 0, D, per_channel, row_codes);
    }
  }
}

template <int kBits>
void QuantizeHeadBits(const HeadLayout& l, float* x, uint8_t* codes, uint16_t* scales,
                      uint16_t* zeros) {
  if (l.rank > 0) {
    QuantizeHeadAs<kBits, true>(l, x, codes, scales, zeros);
  } else {
    QuantizeHeadAs<kBits, false>(l, x, codes, scales, zeros);
  }
}

}  // namespace

void QuantizeHead(const HeadLayout& l, float* x, uint8_t* codes, uint16_t* scales,
                  uint16_t* zeros) {
  switch (l.bits) {
    case 2:
      return QuantizeHeadBits<2>(l, x, codes, scales, zeros);
    case 3:
      return QuantizeHeadBits<3>(l, x, codes, scales, zeros);
    case 4:
      return QuantizeHeadBits<4>(l, x, codes, scales, zeros);
    default:
      return QuantizeHeadBits<8>(l, x, codes, scales, zeros);
  }
}

}  // namespace gearkv::internal
