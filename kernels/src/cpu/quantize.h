// Group quantization of one head (the D of GEAR) and its inverse, for the CPU backend.
#ifndef GEARKV_KERNELS_CPU_QUANTIZE_H_
#define GEARKV_KERNELS_CPU_QUANTIZE_H_

#include <cstdint>

#include "gear_math.h"

namespace gearkv::internal {

// Quantizes head x (layout.tokens x layout.head_dim fp32, NaN marks an outlier that no group
// range includes) per `layout`: writes the packed codes, the fp16 scales and zeros (group
// minima), and replaces x by the residual x - dequantized(x), 0 at NaN entries.
void QuantizeHead(const HeadLayout& layout, float* x, uint8_t* codes, uint16_t* scales,
                  uint16_t* zeros);

// The scale and zero of every entry of row t (head_dim floats each), from the group arrays.
// For keys the rows change only at a token-group boundary, so t must run 0, 1, 2, ...
void PrepareGroupRows(const HeadLayout& layout, uint32_t t, const uint16_t* scales,
                      const uint16_t* zeros, float* scale_row, float* zero_row);
// Row t of D + L in one pass: out[d] = code * scale + zero + sum_j u_row[j] * vt[j * head_dim +
// d], with u_row (layout.rank floats) and vt (rank x head_dim floats) already in fp32.
void DecodeRow(const HeadLayout& layout, const uint8_t* row_codes, const float* scale_row,
               const float* zero_row, const float* u_row, const float* vt, float* out);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_QUANTIZE_H_
