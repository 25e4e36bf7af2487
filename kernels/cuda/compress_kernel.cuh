// The fused GEAR compression kernel: one CTA of kCompressThreads threads compresses one head at
// a time (heads h = blockIdx.x, h + gridDim.x, ...), keeping the head in its workspace (shared
// memory when it fits) from load to the last low-rank product:
//   0. load the head (fp16/bf16/fp32) as fp32, rejecting non-finite values and |x| > 65504;
//   1. outliers: one warp per pool (outliers.cuh), marked NaN in the head;
//   2. group minima and scales (fp16) per group, skipping NaN entries, written to the block;
//   3. codes: one warp per token row, 32 channels per step, packed LSB-first with warp shuffles
//      (8 codes = kBits bytes per lane octet); the head becomes the residual x - D(x), 0 at
//      outliers;
//   4. low-rank factors of the residual (low_rank.cuh).
// Input: the tensor (CompressArgs::in) in its layout (CompressArgs::in_place). Output: every head's
// layout.head_bytes bytes at HeadsGeometry::HeadOffset(h) of the block (the current format
// version), padding between arrays zeroed; byte-compatible with cpu/gear_head.cc (codes, scales,
// zeros and outliers equal; factors and their scales equal to rounding).
#ifndef GEARKV_KERNELS_CUDA_COMPRESS_KERNEL_CUH_
#define GEARKV_KERNELS_CUDA_COMPRESS_KERNEL_CUH_

#include <cstdint>

#include "device_util.cuh"
#include "gear_launch.h"
#include "gear_math.h"
#include "low_rank.cuh"
#include "outliers.cuh"

namespace gearkv::internal::cuda {

// Loads head `in` (tokens rows of head_dim elements of `type`, row t at in + t * in_ld
// elements; in_ld is even) into x (row stride ld) as fp32; returns true on this thread if it saw
// a value that is not finite or beyond fp16's range.
__device__ inline bool LoadHead(const void* in, uint64_t in_ld, ElemType type, uint32_t T,
                                uint32_t D, float* x, uint32_t ld) {
  // Items are element pairs (D is even); thread items advance by kCompressThreads without a
  // division per item.
  const uint32_t pairs = D / 2;
  const uint32_t step_t = kCompressThreads / pairs, step_c = kCompressThreads % pairs;
  uint32_t t = threadIdx.x / pairs, c = threadIdx.x % pairs;
  bool bad = false;
  while (t < T) {
    constexpr int kBatch = 4;  // loads in flight per thread
    float2 v[kBatch];
    uint32_t at[kBatch];
    int n = 0;
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (t < T) {
        v[u] = LoadPair(in, type, uint64_t{t} * in_ld + 2 * c);
        at[u] = t * ld + 2 * c;  // < 2^32: the workspace of one head is far below 16 GiB
        n = u + 1;
        c += step_c;
        t += step_t;
        if (c >= pairs) {
          c -= pairs;
          ++t;
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      if (u < n) {
        bad |= !(fabsf(v[u].x) <= kHalfMax) || !(fabsf(v[u].y) <= kHalfMax);  // NaN fails too
        x[at[u]] = v[u].x;
        x[at[u] + 1] = v[u].y;
      }
    }
  }
  return bad;
}

// Zeroes the padding after each of the head's arrays (every gap is < kArrayAlignment bytes).
__device__ inline void ZeroPadding(const HeadLayout& l, char* out) {
  const uint64_t u_scale_bytes = l.factors == FactorPrecision::kInt8 ? l.rank * 2ull : 0;
  constexpr int kArrays = 8;
  const uint64_t ends[kArrays] = {
      l.codes_offset + l.row_code_bytes * l.tokens,
      l.scales_offset + l.groups * 2,
      l.zeros_offset + l.groups * 2,
      l.outlier_offsets_offset + l.outliers * 2,
      l.outlier_values_offset + l.outliers * l.value_bytes,
      l.u_offset + uint64_t{l.tokens} * l.rank * l.u_entry_bytes,
      l.u_scales_offset + u_scale_bytes,
      l.vt_offset + uint64_t{l.rank} * l.head_dim * 2,
  };
  const uint64_t next[kArrays] = {l.scales_offset,
                                  l.zeros_offset,
                                  l.outlier_offsets_offset,
                                  l.outlier_values_offset,
                                  l.u_offset,
                                  l.u_scales_offset,
                                  l.vt_offset,
                                  l.head_bytes};
  static_assert(kArrays * kArrayAlignment <= kCompressThreads, "one thread per padding byte");
  const uint32_t a = threadIdx.x / kArrayAlignment, byte = threadIdx.x % kArrayAlignment;
  if (a < kArrays && ends[a] + byte < next[a]) out[ends[a] + byte] = 0;
}

// Group minima (zeros) and steps (scales) as fp16, like cpu/quantize.cc GroupParams.
template <int kBits>
__device__ inline void WriteGroupParams(const HeadLayout& l, const float* x, uint32_t ld,
                                        uint16_t* scales, uint16_t* zeros) {
  constexpr float kMaxCode = static_cast<float>((1u << kBits) - 1u);
  const uint32_t T = l.tokens, D = l.head_dim, G = l.group_size;
  const uint32_t per_row = CeilDiv(D, G);  // value groups per token
  for (uint64_t g = threadIdx.x; g < l.groups; g += kCompressThreads) {
    float mn = __int_as_float(0x7f800000), mx = -mn;  // +inf, -inf
    if (l.kind == Kind::kKeys) {                      // channel d over tokens [t0, t1)
      const uint32_t tg = static_cast<uint32_t>(g / D), d = static_cast<uint32_t>(g % D);
      const uint32_t t0 = tg * G, t1 = min(T, t0 + G);
      for (uint32_t t = t0; t < t1; ++t) {
        const float v = x[uint64_t{t} * ld + d];  // NaN (an outlier) compares false: skipped
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
      }
    } else {  // token t over channels [d0, d1)
      const uint32_t t = static_cast<uint32_t>(g / per_row), c = static_cast<uint32_t>(g % per_row);
      const uint32_t d0 = c * G, d1 = min(D, d0 + G);
      const float* row = x + uint64_t{t} * ld;
      for (uint32_t d = d0; d < d1; ++d) {
        const float v = row[d];
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
      }
    }
    if (!(mn <= mx)) mn = mx = 0.0f;  // every entry an outlier
    const float zero = RoundToHalfDevice(mn);
    const float scale = RoundToHalfDevice(fmaxf(0.0f, (mx - zero) / kMaxCode));
    zeros[g] = FloatToHalfBits(zero);
    scales[g] = FloatToHalfBits(scale);
  }
}

// ORs the 8 codes of each aligned lane octet into the low kBits * 8 bits, LSB-first (lane 8i
// first); every lane gets its octet's word.
template <int kBits>
__device__ __forceinline__ auto PackOctet(uint32_t code) {
  if constexpr (kBits == 8) {
    unsigned long long w = static_cast<unsigned long long>(code) << (8 * (LaneId() & 7));
    w |= __shfl_xor_sync(kFullMask, w, 1);
    w |= __shfl_xor_sync(kFullMask, w, 2);
    w |= __shfl_xor_sync(kFullMask, w, 4);
    return w;
  } else {
    uint32_t w = code << (kBits * (LaneId() & 7));
    w |= __shfl_xor_sync(kFullMask, w, 1);
    w |= __shfl_xor_sync(kFullMask, w, 2);
    w |= __shfl_xor_sync(kFullMask, w, 4);
    return w;
  }
}

// Stores one octet's kBits bytes at p (aligned to them when kBits is 2, 4 or 8).
template <int kBits, typename W>
__device__ __forceinline__ void StoreOctet(uint8_t* p, W w) {
  if constexpr (kBits == 2) {
    *reinterpret_cast<uint16_t*>(p) = static_cast<uint16_t>(w);
  } else if constexpr (kBits == 4) {
    *reinterpret_cast<uint32_t*>(p) = static_cast<uint32_t>(w);
  } else if constexpr (kBits == 8) {
    *reinterpret_cast<unsigned long long*>(p) = w;
  } else {
    p[0] = static_cast<uint8_t>(w);
    p[1] = static_cast<uint8_t>(w >> 8);
    p[2] = static_cast<uint8_t>(w >> 16);
  }
}

// Quantizes the head in x with the group parameters already in the block, writes the packed
// codes, and leaves the residual x - D(x) in x (0 at outliers), like cpu/quantize.cc.
template <int kBits>
__device__ inline void QuantizeRows(const HeadLayout& l, FastDiv16 group_div, float* x, uint32_t ld,
                                    const uint16_t* scales, const uint16_t* zeros, uint8_t* codes) {
  constexpr float kMaxCode = static_cast<float>((1u << kBits) - 1u);
  const uint32_t T = l.tokens, D = l.head_dim, lane = LaneId();
  const uint32_t per_row = CeilDiv(D, l.group_size);
  const bool keys = l.kind == Kind::kKeys;
  for (uint32_t t = WarpId(); t < T; t += kCompressWarps) {
    const uint64_t group_row = keys ? uint64_t{group_div.Div(t)} * D : uint64_t{t} * per_row;
    float* row = x + uint64_t{t} * ld;
    for (uint32_t c0 = 0; c0 < D; c0 += 32) {  // warp-uniform; lane octets never straddle D
      const uint32_t d = c0 + lane;
      const bool valid = d < D;
      uint32_t code = 0;
      if (valid) {
        const uint64_t g = group_row + (keys ? d : group_div.Div(d));
        const float zero = HalfBitsToFloat(zeros[g]);
        const float scale = HalfBitsToFloat(scales[g]);
        const float inv_scale = scale > 0.0f ? 1.0f / scale : 0.0f;
        const float v = row[d];
        const float q = QuantizeCode(v, zero, inv_scale, kMaxCode);
        const float r = v - DequantizeCode(q, zero, scale);
        row[d] = r == r ? r : 0.0f;  // NaN (outlier) -> residual 0
        code = static_cast<uint32_t>(q);
      }
      const auto w = PackOctet<kBits>(code);
      if (valid && (lane & 7) == 0) {
        StoreOctet<kBits>(codes + (uint64_t{t} * D + d) * kBits / 8, w);
      }
    }
  }
}

template <int kBits>
__global__ void __launch_bounds__(kCompressThreads, 1)
    CompressHeadsKernel(const __grid_constant__ CompressArgs a) {
  extern __shared__ __align__(16) unsigned char smem[];
  char* ws = a.ws_in_shared ? reinterpret_cast<char*>(smem)
                            : a.scratch + uint64_t{blockIdx.x} * a.ws.bytes;
  const uint32_t T = a.g.tokens, D = a.g.head_dim, ld = a.ws.ld;
  float* x = reinterpret_cast<float*>(ws + a.ws.x);
  const LowRankBuffers lr{x,
                          ld,
                          reinterpret_cast<float*>(ws + a.ws.p),
                          reinterpret_cast<float*>(ws + a.ws.q),
                          reinterpret_cast<float*>(ws + a.ws.part),
                          reinterpret_cast<double*>(ws + a.ws.gram),
                          reinterpret_cast<double*>(ws + a.ws.cbuf),
                          reinterpret_cast<float*>(ws + a.ws.coef),
                          a.ws.r4,
                          a.ws.rp_splits,
                          a.ws.rtq_splits};
  const uint32_t esize = ElemBytes(a.dtype);

  for (uint64_t h = blockIdx.x; h < a.g.num_heads; h += gridDim.x) {
    const uint32_t kind = static_cast<uint32_t>((h / a.g.kv_heads) % 2);
    const HeadLayout& l = a.g.layout[kind];
    char* out = a.block + a.g.HeadOffset(h);
    const HeadPlacement place = a.in_place.Head(h);
    const void* in = static_cast<const char*>(a.in) + place.base * esize;

    if (__syncthreads_or(LoadHead(in, place.row_stride, a.dtype, T, D, x, ld))) {
      if (threadIdx.x == 0)
        atomicMin(&a.status->first_bad_head, static_cast<unsigned long long>(h));
      continue;  // every thread passed the barrier: x is free again
    }
    ZeroPadding(l, out);

    if (l.outliers > 0) {
      const uint32_t* base = a.pool_base[kind];
      auto* offsets = reinterpret_cast<uint16_t*>(out + l.outlier_offsets_offset);
      char* values = out + l.outlier_values_offset;
      for (uint32_t p = WarpId(); p < l.pools; p += kCompressWarps) {
        const uint32_t b = base[p], k = (base[p + 1] - b) / 2;
        if (l.kind == Kind::kKeys) {
          SelectPoolOutliers(PoolChunks<Kind::kKeys>{x, ld, T, D, p, place.row_stride}, k, b, in,
                             a.dtype, offsets, values, a.status);
        } else {
          SelectPoolOutliers(PoolChunks<Kind::kValues>{x, ld, T, D, p, place.row_stride}, k, b, in,
                             a.dtype, offsets, values, a.status);
        }
      }
      __syncthreads();
    }

    auto* scales = reinterpret_cast<uint16_t*>(out + l.scales_offset);
    auto* zeros = reinterpret_cast<uint16_t*>(out + l.zeros_offset);
    WriteGroupParams<kBits>(l, x, ld, scales, zeros);
    __syncthreads();  // the block's global writes are visible to the whole CTA after this
    QuantizeRows<kBits>(l, a.group_div, x, ld, scales, zeros,
                        reinterpret_cast<uint8_t*>(out + l.codes_offset));
    __syncthreads();

    if (l.rank > 0) {
      FitLowRank(lr, T, D, l.rank, a.power_iterations, a.seed, h,
                 reinterpret_cast<int8_t*>(out + l.u_offset),
                 reinterpret_cast<uint16_t*>(out + l.u_scales_offset),
                 reinterpret_cast<uint16_t*>(out + l.vt_offset));
    }
    __syncthreads();  // before the next head overwrites the workspace
  }
}

// Launches CompressHeadsKernel<kBits> (arguments checked by gear_dispatch.cc).
template <int kBits>
cudaError_t LaunchCompressHeads(const CompressArgs& a, cudaStream_t stream) {
  const size_t shared = a.ws_in_shared ? a.ws.bytes : 0;
  if (shared > 48 * 1024) {
    const cudaError_t err =
        cudaFuncSetAttribute(CompressHeadsKernel<kBits>,
                             cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
    if (err != cudaSuccess) return err;
  }
  CompressHeadsKernel<kBits><<<a.grid, kCompressThreads, shared, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace gearkv::internal::cuda

#endif  // GEARKV_KERNELS_CUDA_COMPRESS_KERNEL_CUH_
