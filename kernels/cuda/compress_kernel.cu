// Instantiations of the compress kernel, one per bit width (dispatched in gear_dispatch.cc).
#include "compress_kernel.cuh"

namespace gearkv::internal::cuda {

template cudaError_t LaunchCompressHeads<2>(const CompressArgs&, cudaStream_t);
template cudaError_t LaunchCompressHeads<3>(const CompressArgs&, cudaStream_t);
template cudaError_t LaunchCompressHeads<4>(const CompressArgs&, cudaStream_t);
template cudaError_t LaunchCompressHeads<8>(const CompressArgs&, cudaStream_t);

cudaError_t CheckKernelImage() {
  cudaFuncAttributes attributes;
  return cudaFuncGetAttributes(&attributes, CompressHeadsKernel<4>);
}

}  // namespace gearkv::internal::cuda
