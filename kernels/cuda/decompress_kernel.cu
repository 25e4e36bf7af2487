// Instantiations of the decompress kernel (bit width x output type) and the element conversion
// kernels of the `none` method.
#include "decompress_kernel.cuh"

namespace gearkv::internal::cuda {
namespace {

// out[i] = in[i] for i < n, converted; a grid-stride loop.
__global__ void ConvertKernel(const void* in, ElemType in_type, void* out, ElemType out_type,
                              uint64_t n) {
  for (uint64_t i = uint64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += uint64_t{gridDim.x} * blockDim.x) {
    StoreElement(out, out_type, i, LoadElement(in, in_type, i));
  }
}

// ConvertKernel between two placements of one tensor: element i of the canonical order (head
// i / (T * D), token and channel within it) goes from its place in `in` to its place in `out`.
__global__ void ConvertPlacedKernel(const void* in, ElemType in_type, TensorPlacement in_place,
                                    void* out, ElemType out_type, TensorPlacement out_place) {
  const uint64_t D = in_place.head_dim, head_elems = uint64_t{in_place.tokens} * D;
  const uint64_t n = uint64_t{in_place.layers} * 2 * in_place.kv_heads * head_elems;
  for (uint64_t i = uint64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n;
       i += uint64_t{gridDim.x} * blockDim.x) {
    const uint64_t h = i / head_elems, r = i % head_elems, t = r / D, d = r % D;
    StoreElement(out, out_type, out_place.Head(h).At(t, d),
                 LoadElement(in, in_type, in_place.Head(h).At(t, d)));
  }
}

}  // namespace

#define GEARKV_INSTANTIATE_DECOMPRESS(bits)                                                \
  template cudaError_t LaunchDecompressHeads<bits, ElemType::kF16>(const DecompressArgs&,  \
                                                                   cudaStream_t);          \
  template cudaError_t LaunchDecompressHeads<bits, ElemType::kBF16>(const DecompressArgs&, \
                                                                    cudaStream_t);         \
  template cudaError_t LaunchDecompressHeads<bits, ElemType::kF32>(const DecompressArgs&,  \
                                                                   cudaStream_t);
GEARKV_INSTANTIATE_DECOMPRESS(2)
GEARKV_INSTANTIATE_DECOMPRESS(3)
GEARKV_INSTANTIATE_DECOMPRESS(4)
GEARKV_INSTANTIATE_DECOMPRESS(8)
#undef GEARKV_INSTANTIATE_DECOMPRESS

cudaError_t LaunchConvert(const void* in, ElemType in_type, void* out, ElemType out_type,
                          uint64_t n, cudaStream_t stream) {
  constexpr uint32_t kThreads = 256;
  const uint64_t blocks = (n + kThreads - 1) / kThreads;
  const uint32_t grid = static_cast<uint32_t>(blocks < 65536 ? blocks : 65536);
  ConvertKernel<<<grid, kThreads, 0, stream>>>(in, in_type, out, out_type, n);
  return cudaGetLastError();
}

cudaError_t LaunchConvertPlaced(const void* in, ElemType in_type, TensorPlacement in_place,
                                void* out, ElemType out_type, TensorPlacement out_place,
                                cudaStream_t stream) {
  constexpr uint32_t kThreads = 256;
  const uint64_t n =
      uint64_t{in_place.layers} * 2 * in_place.kv_heads * in_place.tokens * in_place.head_dim;
  const uint64_t blocks = (n + kThreads - 1) / kThreads;
  const uint32_t grid = static_cast<uint32_t>(blocks < 65536 ? blocks : 65536);
  ConvertPlacedKernel<<<grid, kThreads, 0, stream>>>(in, in_type, in_place, out, out_type,
                                                     out_place);
  return cudaGetLastError();
}

}  // namespace gearkv::internal::cuda
