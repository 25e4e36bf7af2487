// Group quantization of one head (the D of GEAR) and its inverse, for the CPU backend.
#ifndef GEARKV_KERNELS_CPU_QUANTIZE_H_
#define GEARKV_KERNELS_CPU_QUANTIZE_H_

#include <cstdint>

#include "gear_math.h"

namespace gearkv::internal {

// Quantizes head x (layout.tokens x layout.head_dim fp32, NaN marks an outlier that no group
// range includes) per `layout`: writes the packed codes, the fp16 scales and zeros (group
// minima), and, when layout.rank > 0 (a low-rank part follows), replaces x by the residual
// x - dequantized(x), 0 at NaN entries. Codes follow QuantizeCode (gear_math.h).
void QuantizeHead(const HeadLayout& layout, float* x, uint8_t* codes, uint16_t* scales,
                  uint16_t* zeros);

// The scales and zeros row t decodes with, as fp32 in scale_row / zero_row (head_dim floats
// each). Returns how many channels share one entry: 0 = one entry per channel (keys, whose rows
// change only at a token-group boundary, so t must run 0, 1, 2, ...; or values whose group size
// is not a multiple of 8), else the group size (values: one entry per group of channels).
uint32_t PrepareGroupRows(const HeadLayout& layout, uint32_t t, const uint16_t* scales,
                          const uint16_t* zeros, float* scale_row, float* zero_row);

// Row t of D + L in one pass: out[d] = code * scale + zero + sum_j u_row[j] * vt[j * head_dim +
// d], with the scales as PrepareGroupRows left them (`group_width` is what it returned) and
// u_row (layout.rank floats) and vt (rank x head_dim floats) already in fp32.
void DecodeRow(const HeadLayout& layout, const uint8_t* row_codes, const float* scale_row,
               const float* zero_row, uint32_t group_width, const float* u_row, const float* vt,
               float* out);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_QUANTIZE_H_
