// The CUDA backend of the codec (gearkv::Codec over the kernels in this folder), built when
// GEARKV_CUDA finds nvcc. MakeCodec(Backend::kCuda / kAuto) in kernels/src/codec.cc calls
// MakeCudaCodec.
#ifndef GEARKV_KERNELS_CUDA_CUDA_CODEC_H_
#define GEARKV_KERNELS_CUDA_CUDA_CODEC_H_

#include <memory>

#include "absl/status/statusor.h"
#include "gearkv/codec.h"

namespace gearkv::internal {

// A codec running on CUDA device 0. UNAVAILABLE, saying why, when there is no usable device:
// no driver or no device (any cudaGetDeviceCount error counts as "no GPU"), or a device this
// build has no kernels for.
//
// The codec's tensors and blocks live in host memory as the Codec interface says; a tensor
// pointer (Compress input, Decompress output) may also be device memory, which skips its copy.
// Blocks are byte-compatible with the CPU backend's (codes, scales, zeros and outliers equal;
// low-rank factors equal up to float rounding). Thread-safe: concurrent calls run on separate
// streams from a pool.
absl::StatusOr<std::unique_ptr<Codec>> MakeCudaCodec();

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CUDA_CUDA_CODEC_H_
