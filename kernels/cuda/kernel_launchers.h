// Declarations of the templated kernel launchers (defined in compress_kernel.cuh and
// decompress_kernel.cuh, instantiated in compress_kernel_*bit.cu and decompress_kernel.cu), so that
// gear_dispatch.cc can be compiled by the host compiler alone.
#ifndef GEARKV_KERNELS_CUDA_KERNEL_LAUNCHERS_H_
#define GEARKV_KERNELS_CUDA_KERNEL_LAUNCHERS_H_

#include "gear_launch.h"

namespace gearkv::internal::cuda {

template <int kBits>
cudaError_t LaunchCompressHeads(const CompressArgs& args, cudaStream_t stream);

template <int kBits, ElemType kOut>
cudaError_t LaunchDecompressHeads(const DecompressArgs& args, cudaStream_t stream);

cudaError_t LaunchConvert(const void* in, ElemType in_type, void* out, ElemType out_type,
                          uint64_t n, cudaStream_t stream);

cudaError_t LaunchConvertPlaced(const void* in, ElemType in_type, TensorPlacement in_place,
                                void* out, ElemType out_type, TensorPlacement out_place,
                                cudaStream_t stream);

}  // namespace gearkv::internal::cuda

#endif  // GEARKV_KERNELS_CUDA_KERNEL_LAUNCHERS_H_
