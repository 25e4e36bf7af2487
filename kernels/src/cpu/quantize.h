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

// Row t of the dequantized head: out[d] = code * scale + zero for d < head_dim. `scale_row`
// and `zero_row` are scratch of head_dim floats that PrepareGroupRows fills.
void PrepareGroupRows(const HeadLayout& layout, uint32_t t, const uint16_t* scales,
                      const uint16_t* zeros, float* scale_row, float* zero_row);
void DequantizeRow(const HeadLayout& layout, const uint8_t* row_codes, const float* scale_row,
                   const float* zero_row, float* out);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_QUANTIZE_H_
