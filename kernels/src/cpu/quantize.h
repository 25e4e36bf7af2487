// Group quantization of one head (the D of GEAR) and its inverse, for the CPU backend.
#ifndef GEARKV_KERNELS_CPU_QUANTIZE_H_
#define GEARKV_KERNELS_CPU_QUANTIZE_H_

#include <cstdint>

#include "gear_math.h"
#include "gearkv/tensor.h"

namespace gearkv::internal {

// Quantizes head x (layout.tokens x layout.head_dim fp32, NaN marks an outlier that no group
// range includes) per `layout`: writes the packed codes, the fp16 scales and zeros (group
// minima), and, when layout.rank > 0 (a low-rank part follows), replaces x by the residual
// x - dequantized(x), NaN at NaN entries. Codes follow QuantizeCode (gear_math.h).
void QuantizeHead(const HeadLayout& layout, float* x, uint8_t* codes, uint16_t* scales,
                  uint16_t* zeros);

// A head's stored low-rank factors, as layout.factors says: u holds fp16 bit patterns
// (FactorPrecision::kFp16, format version 1, no scales) or int8 with u_scales, one fp16 bit
// pattern per column (kInt8, version 2); vt holds fp16 bit patterns in both.
struct StoredFactors {
  const void* u = nullptr;  // [tokens][rank]
  const uint16_t* u_scales = nullptr;
  const uint16_t* vt = nullptr;  // [rank][head_dim]
};

// D + L of a head, rounded to out_dtype, into `out` (layout.tokens x layout.head_dim elements):
// entry (t, d) = DequantizeCode(code, zero, scale) + sum_j u[t][j] * vt[j][d], from the head's
// packed codes, fp16 scales and zeros, and the factors (unused when layout.rank is 0) converted
// to fp32 (DequantizeFactor for int8) once per head for vt and once per row for u.
void DecodeHead(const HeadLayout& layout, const uint8_t* codes, const uint16_t* scales,
                const uint16_t* zeros, const StoredFactors& factors, DType out_dtype, void* out);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_QUANTIZE_H_
