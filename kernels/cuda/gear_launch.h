// The CUDA backend's kernel interface: plain argument structs and the dispatch entry points that
// turn a block's runtime bit width and dtypes into kernel template arguments
// (gear_dispatch.cc). Framework-free: no absl, errors are cudaError_t; everything the kernels
// touch is device memory owned by the caller. Includable from host C++ and from .cu files.
//
// Tensors in any Layout: head number h = (layer * 2 + kind) * kv_heads + head (the order of the
// heads in a canonical tensor, and the seed index of the subspace iteration, as in the CPU
// backend) lies at TensorPlacement::Head(h) (tensor_layout.h): tokens rows of head_dim elements
// at a row stride.
#ifndef GEARKV_KERNELS_CUDA_GEAR_LAUNCH_H_
#define GEARKV_KERNELS_CUDA_GEAR_LAUNCH_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "gear_math.h"
#include "tensor_layout.h"

namespace gearkv::internal::cuda {

// Element types; the values are those of gearkv::DType.
enum class ElemType : uint8_t { kF16 = 1, kBF16 = 2, kF32 = 3 };

GEARKV_HD constexpr uint32_t ElemBytes(ElemType t) { return t == ElemType::kF32 ? 4 : 2; }

// Threads of one compress CTA (one CTA works on one head at a time) and of one decompress CTA.
inline constexpr uint32_t kCompressThreads = 512;
inline constexpr uint32_t kDecompressThreads = 256;

// Division by a runtime divisor d < 2^16 through one multiply-high: n / d is exact for every
// n with n * d < 2^32 (so for n, d < 2^16). magic = floor(2^32 / d) + 1 = 2^32 / d + e with
// 0 < e <= 1, so n * magic / 2^32 = n / d + n e / 2^32 and n e / 2^32 < 1 / d when n d < 2^32:
// the error never reaches the next integer.
struct FastDiv16 {
  uint32_t divisor = 1;
  uint32_t magic = 0;  // unused when divisor == 1

  static FastDiv16 Make(uint32_t d) {
    FastDiv16 f;
    f.divisor = d;
    f.magic = d > 1 ? static_cast<uint32_t>((uint64_t{1} << 32) / d + 1) : 0;
    return f;
  }
  GEARKV_HD uint32_t Div(uint32_t n) const {
#ifdef __CUDA_ARCH__
    return divisor == 1 ? n : __umulhi(n, magic);
#else
    return divisor == 1 ? n : static_cast<uint32_t>((uint64_t{n} * magic) >> 32);
#endif
  }
};

// Errors the kernels find, written to device memory and read back after they ran.
struct KernelStatus {
  unsigned long long first_bad_head;  // compress: lowest head with a non-finite value or
                                      // |x| > 65504; ~0 when none
  unsigned int malformed;             // decompress: an outlier offset lies outside its pool
  unsigned int internal;              // an outlier selection that did not yield 2k entries
};

// Where the heads of a block lie (from BlockGeometry, for the kernels).
struct HeadsGeometry {
  HeadLayout layout[2];  // keys, values
  uint32_t tokens = 0, head_dim = 0, kv_heads = 0;
  uint64_t num_heads = 0;  // layers * 2 * kv_heads
  uint64_t data_offset = 0;
  uint64_t section_bytes[2] = {0, 0};

  GEARKV_HD uint64_t HeadOffset(uint64_t h) const {
    const uint64_t matrix = h / kv_heads, head = h % kv_heads;
    const uint64_t layer = matrix / 2, kind = matrix % 2;
    return data_offset + layer * (section_bytes[0] + section_bytes[1]) +
           (kind ? section_bytes[0] : 0) + head * layout[kind].head_bytes;
  }
};

// Per-CTA working memory of the compress kernel, byte offsets from the CTA's base (shared
// memory when `bytes` fits, else a slice of a global scratch buffer). All arrays fp32 unless
// noted, every one 16-byte aligned:
//   x     [tokens][ld]      the head, then its residual (ld = head_dim + 1 in shared memory so
//                           that a warp reading one channel over 32 tokens hits 32 banks)
//   p     [head_dim][r4]    the subspace iteration's P (columns >= rank stay zero)
//   q     [tokens][r4]      its Q
//   part  split partial sums of R P and R^T Q
//   gram  double [rank * rank + rank]  Gram matrix / Cholesky factor, then the Gram diagonal
//   cbuf  double [rank][rank]          orthonormalising coefficients
//   coef  [rank][rank]                  the same in fp32
struct CompressWorkspace {
  uint32_t ld = 0;
  uint32_t r4 = 0;          // rank rounded up to a multiple of 4
  uint32_t rp_splits = 1;   // R P: head_dim split in this many ranges
  uint32_t rtq_splits = 1;  // R^T Q: tokens split in this many ranges
  uint64_t x = 0, p = 0, q = 0, part = 0, gram = 0, cbuf = 0, coef = 0;
  uint64_t bytes = 0;  // per CTA, a multiple of 256
};

inline CompressWorkspace MakeCompressWorkspace(uint32_t tokens, uint32_t head_dim, uint32_t rank,
                                               bool shared) {
  CompressWorkspace w;
  const uint64_t T = tokens, D = head_dim, r = rank;
  w.ld = shared ? head_dim + 1 : head_dim;
  w.r4 = (rank + 3) / 4 * 4;
  auto clamp = [](uint64_t v, uint64_t lo, uint64_t hi) { return v < lo ? lo : v > hi ? hi : v; };
  if (rank > 0) {
    w.rp_splits = static_cast<uint32_t>(clamp(kCompressThreads / T, 1, clamp(D / 16, 1, 8)));
    w.rtq_splits = static_cast<uint32_t>(clamp(kCompressThreads / D, 1, clamp(T / 16, 1, 16)));
  }
  uint64_t part = 0;
  if (w.rp_splits > 1) part = uint64_t{w.rp_splits} * T * w.r4;
  if (w.rtq_splits > 1 && uint64_t{w.rtq_splits} * D * w.r4 > part) {
    part = uint64_t{w.rtq_splits} * D * w.r4;
  }
  uint64_t at = 0;
  auto place = [&at](uint64_t bytes) {
    const uint64_t offset = at;
    at = AlignUp(at + bytes, 16);
    return offset;
  };
  w.x = place(T * w.ld * 4);
  w.p = place(rank ? D * w.r4 * 4 : 0);
  w.q = place(rank ? T * w.r4 * 4 : 0);
  w.part = place(part * 4);
  w.gram = place((r * r + r) * 8);
  w.cbuf = place(r * r * 8);
  w.coef = place(r * r * 4);
  w.bytes = AlignUp(at, 256);
  return w;
}

struct CompressArgs {
  HeadsGeometry g;
  ElemType dtype = ElemType::kF16;  // of the input and of the stored outlier values
  uint32_t bits = 4;
  uint32_t power_iterations = 0;
  uint32_t seed = 0;
  FastDiv16 group_div;                // by the spec's group_size
  const void* in = nullptr;           // device: the tensor, 16-byte aligned
  TensorPlacement in_place;           // its layout and dimensions
  char* block = nullptr;              // device: the block; heads written at g.HeadOffset(h)
  const uint32_t* pool_base[2] = {};  // device: per kind, pools + 1 outlier prefix counts
  CompressWorkspace ws;
  bool ws_in_shared = true;
  char* scratch = nullptr;  // device: grid * ws.bytes when !ws_in_shared
  uint32_t grid = 0;        // CTAs (each loops over heads h = blockIdx.x, + gridDim.x, ...)
  KernelStatus* status = nullptr;
};

struct DecompressArgs {
  HeadsGeometry g;
  ElemType block_dtype = ElemType::kF16;  // of the stored outlier values
  ElemType out_dtype = ElemType::kF16;
  uint32_t bits = 4;
  FastDiv16 group_div;
  const char* block = nullptr;  // device: the block's bytes (only its sections are read)
  void* out = nullptr;          // device: the tensor, 16-byte aligned
  TensorPlacement out_place;    // its layout and dimensions
  const uint32_t* pool_base[2] = {};
  bool vt_in_shared = true;  // the low-rank factor Vt (fp32 [rank][head_dim]) per CTA
  float* scratch = nullptr;  // device: grid * rank * head_dim floats when !vt_in_shared
  uint32_t grid = 0;
  KernelStatus* status = nullptr;
};

// cudaSuccess when this build holds kernels the current device can run (else, typically,
// cudaErrorNoKernelImageForDevice).
cudaError_t CheckKernelImage();

// Shared memory a compress CTA may use on `device` (the opt-in maximum).
cudaError_t MaxSharedBytesPerBlock(int device, size_t* bytes);

// Enqueues the GEAR compression of every head (outliers, quantization, low-rank). Checks the
// arguments (cudaErrorInvalidValue for a bit width or dtype outside the format).
cudaError_t CompressGear(const CompressArgs& args, cudaStream_t stream);

// Enqueues the fused decompression of every head (unpack + dequantize + low-rank + outliers).
cudaError_t DecompressGear(const DecompressArgs& args, cudaStream_t stream);

// Enqueues out[i] = in[i] converted between element types (the `none` method).
cudaError_t ConvertElements(const void* in, ElemType in_type, void* out, ElemType out_type,
                            uint64_t n, cudaStream_t stream);

// Enqueues, for every element e of a tensor of in_place's dimensions (equal to out_place's),
// out[out_place's offset of e] = in[in_place's offset of e], converted: the `none` method
// between a tensor in any layout and the unpadded canonical sections of a block.
cudaError_t ConvertPlacedElements(const void* in, ElemType in_type, const TensorPlacement& in_place,
                                  void* out, ElemType out_type, const TensorPlacement& out_place,
                                  cudaStream_t stream);

}  // namespace gearkv::internal::cuda

#endif  // GEARKV_KERNELS_CUDA_GEAR_LAUNCH_H_
