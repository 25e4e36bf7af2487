#include "cpu/quantize.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "cpu/simd.h"
#include "half.h"

namespace gearkv::internal {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Packs n codes (floats holding integers in [0, 2^bits)) LSB-first into n * bits / 8 bytes
// (n a multiple of 8).
template <int kBits>
void PackRow(const float* q, uint32_t n, uint8_t* out) {
  if constexpr (kBits == 8) {
    for (uint32_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(q[i]);
  } else if constexpr (kBits == 4) {
    for (uint32_t i = 0; i < n / 2; ++i) {
      out[i] = static_cast<uint8_t>(static_cast<uint32_t>(q[2 * i]) |
                                    static_cast<uint32_t>(q[2 * i + 1]) << 4);
    }
  } else if constexpr (kBits == 2) {
    for (uint32_t i = 0; i < n / 4; ++i) {
      out[i] = static_cast<uint8_t>(
          static_cast<uint32_t>(q[4 * i]) | static_cast<uint32_t>(q[4 * i + 1]) << 2 |
          static_cast<uint32_t>(q[4 * i + 2]) << 4 | static_cast<uint32_t>(q[4 * i + 3]) << 6);
    }
  } else {  // 3 bits: 8 codes in 3 bytes
    for (uint32_t i = 0; i < n / 8; ++i) {
      uint32_t w = 0;
      for (int j = 0; j < 8; ++j) w |= static_cast<uint32_t>(q[8 * i + j]) << (3 * j);
      out[3 * i] = static_cast<uint8_t>(w);
      out[3 * i + 1] = static_cast<uint8_t>(w >> 8);
      out[3 * i + 2] = static_cast<uint8_t>(w >> 16);
    }
  }
}

void PackRowAnyBits(uint32_t bits, const float* q, uint32_t n, uint8_t* out) {
  switch (bits) {
    case 2:
      return PackRow<2>(q, n, out);
    case 3:
      return PackRow<3>(q, n, out);
    case 4:
      return PackRow<4>(q, n, out);
    default:
      return PackRow<8>(q, n, out);
  }
}

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
    *lo = MinLanes8(vlo, *lo);
    *hi = MaxLanes8(vhi, *hi);
  }
  for (; i < n; ++i) {
    *lo = p[i] < *lo ? p[i] : *lo;
    *hi = p[i] > *hi ? p[i] : *hi;
  }
}

// Quantizes one row of n entries with per-entry group parameters, leaving the residual in x
// and the codes in q.
inline void QuantizeRow(float* x, const float* zero, const float* scale, const float* inv_scale,
                        float max_code, uint32_t n, float* q) {
  for (uint32_t d = 0; d < n; ++d) {
    const float c = QuantizeCode(x[d], zero[d], inv_scale[d], max_code);
    q[d] = c;
    const float r = x[d] - DequantizeCode(c, zero[d], scale[d]);
    x[d] = r == r ? r : 0.0f;  // NaN (outlier) -> residual 0
  }
}

}  // namespace

void QuantizeHead(const HeadLayout& l, float* x, uint8_t* codes, uint16_t* scales,
                  uint16_t* zeros) {
  const uint32_t T = l.tokens, D = l.head_dim, G = l.group_size;
  const float max_code = static_cast<float>(MaxCode(l.bits));
  thread_local std::vector<float> buf;
  buf.resize(size_t{6} * D);
  float *mn = buf.data(), *mx = mn + D, *zero = mx + D, *scale = zero + D, *inv = scale + D;
  float* q = inv + D;  // one row of codes
  if (l.kind == Kind::kKeys) {
    // Groups: one channel over G tokens; every channel of a token group at once.
    for (uint32_t t0 = 0, g = 0; t0 < T; t0 += G, ++g) {
      const uint32_t t1 = std::min(T, t0 + G);
      std::fill(mn, mn + D, kInf);
      std::fill(mx, mx + D, -kInf);
      for (uint32_t t = t0; t < t1; ++t) {
        const float* row = x + size_t{t} * D;
        for (uint32_t d = 0; d < D; ++d) {  // NaN compares false: outliers are skipped
          mn[d] = row[d] < mn[d] ? row[d] : mn[d];
          mx[d] = row[d] > mx[d] ? row[d] : mx[d];
        }
      }
      for (uint32_t d = 0; d < D; ++d) {
        GroupParams(mn[d], mx[d], max_code, &zeros[size_t{g} * D + d], &scales[size_t{g} * D + d],
                    &zero[d], &scale[d], &inv[d]);
      }
      for (uint32_t t = t0; t < t1; ++t) {
        QuantizeRow(x + size_t{t} * D, zero, scale, inv, max_code, D, q);
        PackRowAnyBits(l.bits, q, D, codes + t * l.row_code_bytes);
      }
    }
  } else {
    // Groups: one token over G channels.
    const uint32_t groups_per_row = CeilDiv(D, G);
    for (uint32_t t = 0; t < T; ++t) {
      float* row = x + size_t{t} * D;
      for (uint32_t c = 0; c < groups_per_row; ++c) {
        const uint32_t d0 = c * G, d1 = std::min(D, d0 + G);
        float lo = kInf, hi = -kInf;
        RangeSkippingNaN(row + d0, d1 - d0, &lo, &hi);
        const size_t gi = size_t{t} * groups_per_row + c;
        GroupParams(lo, hi, max_code, &zeros[gi], &scales[gi], &zero[d0], &scale[d0], &inv[d0]);
        std::fill(zero + d0 + 1, zero + d1, zero[d0]);
        std::fill(scale + d0 + 1, scale + d1, scale[d0]);
        std::fill(inv + d0 + 1, inv + d1, inv[d0]);
      }
      QuantizeRow(row, zero, scale, inv, max_code, D, q);
      PackRowAnyBits(l.bits, q, D, codes + t * l.row_code_bytes);
    }
  }
}

uint32_t PrepareGroupRows(const HeadLayout& l, uint32_t t, const uint16_t* scales,
                          const uint16_t* zeros, float* scale_row, float* zero_row) {
  const uint32_t D = l.head_dim, G = l.group_size;
  if (l.kind == Kind::kKeys) {
    if (t % G == 0) {  // unchanged inside a token group
      const size_t g = t / G;
      for (uint32_t d = 0; d < D; ++d) {
        scale_row[d] = HalfToFloat(scales[g * D + d]);
        zero_row[d] = HalfToFloat(zeros[g * D + d]);
      }
    }
    return 0;
  }
  const uint32_t groups_per_row = CeilDiv(D, G);
  const bool per_group = G % 8 == 0;  // whole Float8s per group: one entry per group will do
  for (uint32_t c = 0; c < groups_per_row; ++c) {
    const float s = HalfToFloat(scales[size_t{t} * groups_per_row + c]);
    const float z = HalfToFloat(zeros[size_t{t} * groups_per_row + c]);
    if (per_group) {
      scale_row[c] = s;
      zero_row[c] = z;
    } else {
      const uint32_t d1 = std::min(D, (c + 1) * G);
      std::fill(scale_row + c * G, scale_row + d1, s);
      std::fill(zero_row + c * G, zero_row + d1, z);
    }
  }
  return per_group ? G : 0;
}

namespace {

// kRank: the low-rank rank when known at compile time (0 or 4, the presets'), -1 otherwise.
template <int kBits, int kRank>
void DecodeRowBits(uint32_t D, uint32_t rank, const uint8_t* codes, const float* scale,
                   const float* zero, uint32_t group_width, const float* u_row, const float* vt,
                   float* out) {
  Float8 u[kRank > 0 ? kRank : 1];
  for (int j = 0; j < kRank; ++j) u[j] = Broadcast8(u_row[j]);
  auto decode8 = [&](uint32_t d, Float8 s, Float8 z) {
    Float8 v = UnpackCodes8<kBits>(codes + d / 8 * kBits) * s + z;
    if constexpr (kRank > 0) {
      for (int j = 0; j < kRank; ++j) v += u[j] * Load8(vt + static_cast<size_t>(j) * D + d);
    } else if constexpr (kRank < 0) {
      for (uint32_t j = 0; j < rank; ++j) v += Broadcast8(u_row[j]) * Load8(vt + size_t{j} * D + d);
    }
    Store8(out + d, v);
  };
  if (group_width == 0) {  // one scale and zero per channel
    for (uint32_t d = 0; d < D; d += 8) decode8(d, Load8(scale + d), Load8(zero + d));
    return;
  }
  for (uint32_t g = 0, d0 = 0; d0 < D; ++g, d0 += group_width) {  // one per group of channels
    const Float8 s = Broadcast8(scale[g]), z = Broadcast8(zero[g]);
    for (uint32_t d = d0; d < std::min(D, d0 + group_width); d += 8) decode8(d, s, z);
  }
}

template <int kBits>
void DecodeRowAnyRank(const HeadLayout& l, const uint8_t* codes, const float* scale,
                      const float* zero, uint32_t group_width, const float* u_row, const float* vt,
                      float* out) {
  switch (l.rank) {
    case 0:
      return DecodeRowBits<kBits, 0>(l.head_dim, 0, codes, scale, zero, group_width, u_row, vt,
                                     out);
    case 4:
      return DecodeRowBits<kBits, 4>(l.head_dim, 4, codes, scale, zero, group_width, u_row, vt,
                                     out);
    default:
      return DecodeRowBits<kBits, -1>(l.head_dim, l.rank, codes, scale, zero, group_width, u_row,
                                      vt, out);
  }
}

}  // namespace

void DecodeRow(const HeadLayout& l, const uint8_t* row_codes, const float* scale_row,
               const float* zero_row, uint32_t group_width, const float* u_row, const float* vt,
               float* out) {
  switch (l.bits) {
    case 2:
      return DecodeRowAnyRank<2>(l, row_codes, scale_row, zero_row, group_width, u_row, vt, out);
    case 3:
      return DecodeRowAnyRank<3>(l, row_codes, scale_row, zero_row, group_width, u_row, vt, out);
    case 4:
      return DecodeRowAnyRank<4>(l, row_codes, scale_row, zero_row, group_width, u_row, vt, out);
    default:
      return DecodeRowAnyRank<8>(l, row_codes, scale_row, zero_row, group_width, u_row, vt, out);
  }
}

}  // namespace gearkv::internal
