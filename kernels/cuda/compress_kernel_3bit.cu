// The 3-bit instantiation of the compress kernel (one file per bit width so that a parallel
// build compiles them side by side; dispatched in gear_dispatch.cc).
#include "compress_kernel.cuh"

namespace gearkv::internal::cuda {

template cudaError_t LaunchCompressHeads<3>(const CompressArgs&, cudaStream_t);

}  // namespace gearkv::internal::cuda
