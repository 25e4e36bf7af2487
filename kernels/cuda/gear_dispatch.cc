// The one place where runtime bit widths and element types become kernel template arguments,
// after the arguments are checked.
#include <cstdint>

#include "gear_launch.h"
#include "kernel_launchers.h"

namespace gearkv::internal::cuda {
namespace {

bool IsElemType(ElemType t) {
  return t == ElemType::kF16 || t == ElemType::kBF16 || t == ElemType::kF32;
}

bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Checks shared by both directions: shapes the kernels' indexing relies on.
bool ValidGeometry(const HeadsGeometry& g) {
  if (g.tokens == 0 || g.head_dim == 0 || g.kv_heads == 0 || g.num_heads == 0) return false;
  if (g.head_dim % 8 != 0 || g.tokens > 65535 || g.head_dim > 8192) return false;
  if (g.num_heads % (2 * uint64_t{g.kv_heads}) != 0) return false;
  for (const HeadLayout& l : g.layout) {
    if (l.tokens != g.tokens || l.head_dim != g.head_dim || l.group_size == 0) return false;
    if (l.rank != g.layout[0].rank || l.bits != g.layout[0].bits) return false;
    if (l.factors != g.layout[0].factors) return false;
  }
  return true;
}

// A tensor placement of the geometry's dimensions in a layout of the enum.
bool ValidPlacement(const TensorPlacement& p, const HeadsGeometry& g) {
  return static_cast<uint8_t>(p.layout) <= 2 && p.tokens == g.tokens && p.head_dim == g.head_dim &&
         p.kv_heads == g.kv_heads && uint64_t{p.layers} * 2 * p.kv_heads == g.num_heads;
}

template <ElemType kOut>
cudaError_t DecompressFor(const DecompressArgs& a, cudaStream_t stream) {
  switch (a.bits) {
    case 2:
      return LaunchDecompressHeads<2, kOut>(a, stream);
    case 3:
      return LaunchDecompressHeads<3, kOut>(a, stream);
    case 4:
      return LaunchDecompressHeads<4, kOut>(a, stream);
    case 8:
      return LaunchDecompressHeads<8, kOut>(a, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t MaxSharedBytesPerBlock(int device, size_t* bytes) {
  int value = 0;
  const cudaError_t err =
      cudaDeviceGetAttribute(&value, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  *bytes = err == cudaSuccess ? static_cast<size_t>(value) : 0;
  return err;
}

cudaError_t CompressGear(const CompressArgs& a, cudaStream_t stream) {
  if (!ValidGeometry(a.g) || !IsElemType(a.dtype) || a.in == nullptr || a.block == nullptr ||
      a.status == nullptr || a.grid == 0 || !Aligned16(a.in) || !Aligned16(a.block) ||
      !ValidPlacement(a.in_place, a.g)) {
    return cudaErrorInvalidValue;
  }
  if (a.bits != a.g.layout[0].bits || a.g.layout[0].value_bytes != ElemBytes(a.dtype)) {
    return cudaErrorInvalidValue;
  }
  // The kernel writes the current format version's factors only (FactorPrecision::kInt8).
  if (a.g.layout[0].factors != FactorPrecision::kInt8) return cudaErrorInvalidValue;
  if (a.g.layout[0].rank > 0 && a.power_iterations == 0) return cudaErrorInvalidValue;
  if ((a.g.layout[0].outliers > 0 || a.g.layout[1].outliers > 0) &&
      (a.pool_base[0] == nullptr || a.pool_base[1] == nullptr)) {
    return cudaErrorInvalidValue;
  }
  if (!a.ws_in_shared && a.scratch == nullptr) return cudaErrorInvalidValue;
  if (a.ws.ld < a.g.head_dim || a.ws.r4 % 4 != 0 || a.ws.bytes % 256 != 0) {
    return cudaErrorInvalidValue;
  }
  switch (a.bits) {
    case 2:
      return LaunchCompressHeads<2>(a, stream);
    case 3:
      return LaunchCompressHeads<3>(a, stream);
    case 4:
      return LaunchCompressHeads<4>(a, stream);
    case 8:
      return LaunchCompressHeads<8>(a, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

cudaError_t DecompressGear(const DecompressArgs& a, cudaStream_t stream) {
  if (!ValidGeometry(a.g) || !IsElemType(a.block_dtype) || !IsElemType(a.out_dtype) ||
      a.block == nullptr || a.out == nullptr || a.status == nullptr || a.grid == 0 ||
      !Aligned16(a.block) || !Aligned16(a.out) || a.bits != a.g.layout[0].bits ||
      !ValidPlacement(a.out_place, a.g)) {
    return cudaErrorInvalidValue;
  }
  if ((a.g.layout[0].outliers > 0 || a.g.layout[1].outliers > 0) &&
      (a.pool_base[0] == nullptr || a.pool_base[1] == nullptr)) {
    return cudaErrorInvalidValue;
  }
  if (!a.vt_in_shared && a.g.layout[0].rank > 0 && a.scratch == nullptr) {
    return cudaErrorInvalidValue;
  }
  switch (a.out_dtype) {
    case ElemType::kF16:
      return DecompressFor<ElemType::kF16>(a, stream);
    case ElemType::kBF16:
      return DecompressFor<ElemType::kBF16>(a, stream);
    default:
      return DecompressFor<ElemType::kF32>(a, stream);
  }
}

cudaError_t ConvertElements(const void* in, ElemType in_type, void* out, ElemType out_type,
                            uint64_t n, cudaStream_t stream) {
  if (!IsElemType(in_type) || !IsElemType(out_type) ||
      (n > 0 && (in == nullptr || out == nullptr))) {
    return cudaErrorInvalidValue;
  }
  if (n == 0) return cudaSuccess;
  if (in_type == out_type) {
    return cudaMemcpyAsync(out, in, n * ElemBytes(in_type), cudaMemcpyDeviceToDevice, stream);
  }
  return LaunchConvert(in, in_type, out, out_type, n, stream);
}

cudaError_t ConvertPlacedElements(const void* in, ElemType in_type, const TensorPlacement& in_place,
                                  void* out, ElemType out_type, const TensorPlacement& out_place,
                                  cudaStream_t stream) {
  if (!IsElemType(in_type) || !IsElemType(out_type) || in == nullptr || out == nullptr ||
      static_cast<uint8_t>(in_place.layout) > 2 || static_cast<uint8_t>(out_place.layout) > 2 ||
      in_place.layers != out_place.layers || in_place.kv_heads != out_place.kv_heads ||
      in_place.tokens != out_place.tokens || in_place.head_dim != out_place.head_dim ||
      in_place.head_dim == 0 || in_place.tokens == 0) {
    return cudaErrorInvalidValue;
  }
  return LaunchConvertPlaced(in, in_type, in_place, out, out_type, out_place, stream);
}

}  // namespace gearkv::internal::cuda
