// Decoding of one head's quantized part and low-rank part (D + L of GEAR) for the CPU backend:
// the inverse of QuantizeHead (quantize.h) and FitLowRank (low_rank.h).
#ifndef GEARKV_KERNELS_CPU_DECODE_HEAD_H_
#define GEARKV_KERNELS_CPU_DECODE_HEAD_H_

#include <cstdint>

#include "gear_math.h"
#include "gearkv/tensor.h"

namespace gearkv::internal {

// A head record's low-rank arrays u, u scales and vt (block_format.md); layout.factors says how
// u is stored (u_scales is unused for FactorPrecision::kFp16).
struct StoredFactors {
  const void* u = nullptr;  // [tokens][rank]
  const uint16_t* u_scales = nullptr;
  const uint16_t* vt = nullptr;  // [rank][head_dim]
};

// D + L of a head, rounded to out_dtype, into `out` (layout.tokens rows of layout.head_dim
// elements, row t at out + t * out_row_stride elements):
// entry (t, d) = DequantizeCode(code, zero, scale) + sum_j u[t][j] * vt[j][d], from the head's
// codes, scales and zeros, and the factors (unused when layout.rank is 0) converted to fp32
// (DequantizeFactor for int8) once per head for vt and once per row for u.
void DecodeHead(const HeadLayout& layout, const uint8_t* codes, const uint16_t* scales,
                const uint16_t* zeros, const StoredFactors& factors, DType out_dtype, void* out,
                uint64_t out_row_stride);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_DECODE_HEAD_H_
