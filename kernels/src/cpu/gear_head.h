// GEAR on one head (a tokens x head_dim matrix of one layer and kind) for the CPU backend.
#ifndef GEARKV_KERNELS_CPU_GEAR_HEAD_H_
#define GEARKV_KERNELS_CPU_GEAR_HEAD_H_

#include <cstdint>

#include "gear_math.h"
#include "gearkv/codec.h"

namespace gearkv::internal {

// Compresses the head at `in` (tokens rows of head_dim elements of `dtype`, row r at
// in + r * row_stride elements; row_stride >= head_dim) into `out` with `layout` of the current
// format version (FactorPrecision::kInt8), the head's layout.head_bytes bytes of
// its section, which must arrive zeroed (the padding between arrays is left as it is). Returns
// false, writing nothing useful, when the head holds a value that is not finite or is beyond
// fp16's range (the scales are fp16).
bool CompressHead(const HeadLayout& layout, const CodecSpec& spec, uint64_t head_index,
                  const void* in, uint64_t row_stride, DType dtype, char* out);

// Decompresses the head at `in` (of any readable format version: layout.factors says how its
// factors are stored; block dtype `block_dtype`) into `out` (tokens rows of head_dim elements of
// `out_dtype`, row r at out + r * out_row_stride elements; nothing between the rows is touched).
// Returns false when an outlier offset lies outside its pool (a forged block); `out` is then
// partly written.
bool DecompressHead(const HeadLayout& layout, const char* in, DType block_dtype, void* out,
                    uint64_t out_row_stride, DType out_dtype);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_GEAR_HEAD_H_
