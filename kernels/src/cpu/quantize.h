// Group quantization of one head (the D of GEAR) for the CPU backend; its inverse is
// DecodeHead (decode_head.h).
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

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_QUANTIZE_H_
