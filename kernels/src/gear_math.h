// Per-element GEAR math and the layout of a head record (block_format.md), shared by the CPU and
// CUDA backends (functions are __host__ __device__ under nvcc), so that the CPU tests cover them.
//
// Everything here is pure arithmetic on plain types: no allocation, no I/O, no absl.
#ifndef GEARKV_KERNELS_GEAR_MATH_H_
#define GEARKV_KERNELS_GEAR_MATH_H_

#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define GEARKV_HD __host__ __device__ __forceinline__
#else
#define GEARKV_HD inline
#endif

namespace gearkv::internal {

// Matrix kinds of a canonical block: index 0 of the K|V axis is keys, 1 is values.
enum class Kind : uint8_t { kKeys = 0, kValues = 1 };

// Value outliers are chosen among this many consecutive tokens of one head at a time.
inline constexpr uint32_t kValuePoolTokens = 8;
// Every array inside a head's section starts at a multiple of this many bytes.
inline constexpr uint64_t kArrayAlignment = 16;

GEARKV_HD uint64_t AlignUp(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }
GEARKV_HD uint32_t CeilDiv(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

// Highest code of a b-bit quantizer: 2^b - 1.
GEARKV_HD uint32_t MaxCode(uint32_t bits) { return (1u << bits) - 1u; }

// Quantization code of x for a group with minimum `zero` and step `scale` (both already rounded
// to fp16): round-half-even((x - zero) / scale) clamped to [0, max_code]. `inv_scale` is 1/scale,
// or 0 when scale is 0 (a constant group: every code is 0). A NaN x (a masked outlier) gives 0.
GEARKV_HD float QuantizeCode(float x, float zero, float inv_scale, float max_code) {
  float q = (x - zero) * inv_scale;
#ifdef __CUDA_ARCH__
  q = rintf(q);
#else
  q = __builtin_rintf(q);
#endif
  q = q > 0.0f ? q : 0.0f;  // NaN compares false: NaN -> 0
  return q < max_code ? q : max_code;
}

GEARKV_HD float DequantizeCode(float code, float zero, float scale) { return code * scale + zero; }

// x rounded to the nearest fp16 value (ties to even), as fp32, for finite |x| <= 65504 (larger
// values would round to infinity). Pure arithmetic (frexp, ldexp, rint: exact scalings by powers
// of two), so that host and device agree; equal to half.h RoundToHalf over that range.
GEARKV_HD float RoundToHalfValue(float x) {
  if (x == 0.0f) return x;
  int e = 0;
  frexpf(x, &e);  // |x| = m 2^e, m in [0.5, 1)
  // fp16 keeps 11 significant bits down to 2^-14 (e >= -13); below, steps of 2^-24.
  const int step = e >= -13 ? e - 11 : -24;
#ifdef __CUDA_ARCH__
  const float steps = rintf(ldexpf(x, -step));
#else
  const float steps = __builtin_rintf(ldexpf(x, -step));
#endif
  return ldexpf(steps, step);
}

// The int8 quantization of the low-rank factor u (FactorPrecision::kInt8; block_format.md):
// x ~ q * scale, q in [-kFactorMaxQ, kFactorMaxQ], one scale per column.
inline constexpr float kFactorMaxQ = 127.0f;

// The scale of a factor column whose largest magnitude is max_abs: fp16(max_abs / 127), at most
// fp16's largest finite value; 0 for an all-zero vector (or a NaN max_abs).
GEARKV_HD float FactorScale(float max_abs) {
  if (!(max_abs > 0.0f)) return 0.0f;
  const float s = max_abs / kFactorMaxQ;
  return RoundToHalfValue(s < 65504.0f ? s : 65504.0f);
}

// 1 / scale, or 0 for a zero scale (every entry of that column quantizes to 0).
GEARKV_HD float FactorInvScale(float scale) { return scale > 0.0f ? 1.0f / scale : 0.0f; }

// The int8 entry of x in a column with inverse scale `inv_scale` (FactorInvScale):
// round-half-even(x * inv_scale) clamped to [-127, 127]; 0 for a NaN x.
GEARKV_HD int8_t QuantizeFactor(float x, float inv_scale) {
  if (x != x) return 0;
  float q = x * inv_scale;
#ifdef __CUDA_ARCH__
  q = rintf(q);
#else
  q = __builtin_rintf(q);
#endif
  q = q > -kFactorMaxQ ? q : -kFactorMaxQ;
  return static_cast<int8_t>(q < kFactorMaxQ ? q : kFactorMaxQ);
}

GEARKV_HD float DequantizeFactor(int8_t q, float scale) { return static_cast<float>(q) * scale; }

// SplitMix64: the deterministic generator behind the subspace iteration's starting matrix.
GEARKV_HD uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The random stream of head number `head_index` (counted over the whole block:
// (layer * 2 + kind) * kv_heads + head).
GEARKV_HD uint64_t StartMatrixStream(uint32_t seed, uint64_t head_index) {
  return SplitMix64((uint64_t{seed} << 32) ^ head_index);
}

// Entry (row, col) of the D x r starting matrix of the head whose stream is `stream`: uniform
// in [0, 1), like torch.rand.
GEARKV_HD float StartMatrixEntry(uint64_t stream, uint32_t row, uint32_t col, uint32_t rank) {
  const uint64_t bits = SplitMix64(stream + uint64_t{row} * rank + col);
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);  // 24 random bits
}

// Outliers per side (largest / smallest) in pool `pool` of a head, spreading s * n / 2 over the
// pools so that the head keeps round-down(s * n * pools) entries in all: pool i gets
// floor((i + 1) x) - floor(i x), x = s * n / 2, capped at n / 2. Computed in double so that
// every backend agrees.
GEARKV_HD uint32_t OutliersPerSide(double outlier_ratio, uint32_t pool_size, uint32_t pool) {
  const double x = outlier_ratio * pool_size / 2.0;
  const uint64_t hi = static_cast<uint64_t>((pool + 1.0) * x);
  const uint64_t lo = static_cast<uint64_t>(pool * x);
  const uint64_t k = hi - lo;
  return static_cast<uint32_t>(k < pool_size / 2 ? k : pool_size / 2);
}

// How a head's low-rank factor u is stored: kFp16 in format version 1, kInt8 (with the u scales
// array) in version 2 (block_format.md, Versioning).
enum class FactorPrecision : uint8_t { kFp16 = 0, kInt8 = 1 };

// Geometry of one head (a tokens x head_dim matrix) of one kind, and the offsets of the arrays
// of its head record (kernels/block_format.md, Sections), relative to the head's start.
// MakeHeadLayout is the one computation of that layout, for every backend.
struct HeadLayout {
  Kind kind = Kind::kKeys;
  uint32_t tokens = 0, head_dim = 0, bits = 0, group_size = 0, rank = 0;
  uint32_t value_bytes = 0;  // bytes of one outlier value (the tensor's dtype)
  FactorPrecision factors = FactorPrecision::kInt8;
  uint32_t u_entry_bytes = 1;  // bytes of one entry of u: 2 (kFp16) or 1 (kInt8)
  uint32_t pool_size = 0;      // entries in one outlier pool
  uint32_t pools = 0;
  double outlier_ratio = 0;  // the spec's s, as double (OutliersPerSide's argument)
  uint64_t row_code_bytes = 0;
  uint64_t groups = 0;
  uint64_t outliers = 0;
  uint64_t codes_offset = 0, scales_offset = 0, zeros_offset = 0;
  uint64_t outlier_offsets_offset = 0, outlier_values_offset = 0;
  uint64_t u_offset = 0, u_scales_offset = 0, vt_offset = 0;
  uint64_t head_bytes = 0;  // a multiple of kArrayAlignment
};

// Keys: a pool is one channel over all tokens (pools = head_dim); values: a pool is
// kValuePoolTokens consecutive tokens over all channels (the last may be shorter).
GEARKV_HD uint32_t PoolCount(Kind kind, uint32_t tokens, uint32_t head_dim) {
  return kind == Kind::kKeys ? head_dim : CeilDiv(tokens, kValuePoolTokens);
}
GEARKV_HD uint32_t PoolSize(Kind kind, uint32_t tokens, uint32_t head_dim, uint32_t pool) {
  if (kind == Kind::kKeys) return tokens;
  const uint32_t first = pool * kValuePoolTokens;
  const uint32_t rows = tokens - first < kValuePoolTokens ? tokens - first : kValuePoolTokens;
  return rows * head_dim;
}

GEARKV_HD HeadLayout MakeHeadLayout(Kind kind, uint32_t tokens, uint32_t head_dim, uint32_t bits,
                                    uint32_t group_size, uint32_t rank, double outlier_ratio,
                                    uint32_t value_bytes,
                                    FactorPrecision factors = FactorPrecision::kInt8) {
  HeadLayout l;
  l.kind = kind;
  l.tokens = tokens;
  l.head_dim = head_dim;
  l.bits = bits;
  l.group_size = group_size;
  l.rank = rank;
  l.value_bytes = value_bytes;
  l.factors = factors;
  l.u_entry_bytes = factors == FactorPrecision::kFp16 ? 2 : 1;
  l.pools = PoolCount(kind, tokens, head_dim);
  l.outlier_ratio = outlier_ratio;
  l.pool_size = kind == Kind::kKeys ? tokens : kValuePoolTokens * head_dim;
  l.row_code_bytes = uint64_t{head_dim} * bits / 8;
  l.groups = kind == Kind::kKeys ? uint64_t{CeilDiv(tokens, group_size)} * head_dim
                                 : uint64_t{tokens} * CeilDiv(head_dim, group_size);
  if (outlier_ratio > 0) {
    for (uint32_t p = 0; p < l.pools; ++p) {
      l.outliers += 2ull * OutliersPerSide(outlier_ratio, PoolSize(kind, tokens, head_dim, p), p);
    }
  }
  uint64_t at = 0;
  auto place = [&at](uint64_t bytes) {
    const uint64_t offset = at;
    at = AlignUp(at + bytes, kArrayAlignment);
    return offset;
  };
  l.codes_offset = place(l.row_code_bytes * tokens);
  l.scales_offset = place(l.groups * 2);
  l.zeros_offset = place(l.groups * 2);
  l.outlier_offsets_offset = place(l.outliers * 2);
  l.outlier_values_offset = place(l.outliers * value_bytes);
  l.u_offset = place(uint64_t{tokens} * rank * l.u_entry_bytes);
  l.u_scales_offset = place(factors == FactorPrecision::kInt8 ? uint64_t{rank} * 2 : 0);
  l.vt_offset = place(uint64_t{rank} * head_dim * 2);
  l.head_bytes = at;
  return l;
}

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_GEAR_MATH_H_
