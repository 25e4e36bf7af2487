// GEAR on one head (a tokens x head_dim matrix of one layer and kind) for the CPU backend.
#ifndef GEARKV_KERNELS_CPU_GEAR_HEAD_H_
#define GEARKV_KERNELS_CPU_GEAR_HEAD_H_

#include <cstdint>

#include "gear_math.h"
#include "gearkv/codec.h"

namespace gearkv::internal {

// Compresses the head at `in` (tokens x head_dim elements of `dtype`) into `out` with `layout`
// of the current format version (FactorPrecision::kInt8), the head's layout.head_bytes bytes of
// its section, which must arrive zeroed (the padding between arrays is left as it is). Returns
// false, writing nothing useful, when the head holds a value that is not finite or is beyond
// fp16's range (the scales are fp16).
bool CompressHead(const HeadLayout& layout, const CodecSpec& spec, uint64_t head_index,
                  const void* in, DType dtype, char* out);

// Decompresses the head at `in` (of any readable format version: layout.factors says how its
// factors are stored; block dtype `block_dtype`) into `out` (tokens x head_dim elements of
// `out_dtype`). Returns false when an outlier offset lies
// outside its pool (a forged block); `out` is then partly written.
bool DecompressHead(const HeadLayout& layout, const char* in, DType block_dtype, void* out,
                    DType out_dtype);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_GEAR_HEAD_H_
