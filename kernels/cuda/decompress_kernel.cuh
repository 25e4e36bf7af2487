// The fused GEAR decompression kernel and the element conversion of the `none` method.
//
// One CTA of kDecompressThreads threads rebuilds one head at a time (h = blockIdx.x, ...):
//   1. vt to fp32 in shared memory (or the CTA's scratch slice);
//   2. every octet of 8 consecutive channels of a token: unpack kBits bytes of codes,
//      dequantize with its groups' scale and zero, add sum_j u[t][j] vt[j][:] (u read as
//      HeadLayout::factors says), store 8 outputs of kOut with one or two 16-byte writes;
//   3. after a barrier, one warp per pool writes that pool's outliers over their positions
//      (offsets outside the pool are counted in status->malformed and skipped).
// The arrays are those of a head record (kernels/block_format.md). Same arithmetic and order as
// cpu/gear_head.cc DecompressHead.
#ifndef GEARKV_KERNELS_CUDA_DECOMPRESS_KERNEL_CUH_
#define GEARKV_KERNELS_CUDA_DECOMPRESS_KERNEL_CUH_

#include <cstdint>

#include "device_util.cuh"
#include "gear_launch.h"
#include "gear_math.h"

namespace gearkv::internal::cuda {

inline constexpr uint32_t kDecompressWarps = kDecompressThreads / 32;

// The kBits bytes of one octet of codes (aligned to them when kBits is 2, 4 or 8).
template <int kBits>
__device__ __forceinline__ unsigned long long LoadOctet(const uint8_t* p) {
  if constexpr (kBits == 2) {
    return *reinterpret_cast<const uint16_t*>(p);
  } else if constexpr (kBits == 4) {
    return *reinterpret_cast<const uint32_t*>(p);
  } else if constexpr (kBits == 8) {
    return *reinterpret_cast<const unsigned long long*>(p);
  } else {
    return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16;
  }
}

// Stores 8 consecutive outputs at element i (a multiple of 8) of out.
template <ElemType kOut>
__device__ __forceinline__ void StoreOctet(void* out, uint64_t i, const float (&v)[8]) {
  if constexpr (kOut == ElemType::kF32) {
    float4* o = reinterpret_cast<float4*>(static_cast<float*>(out) + i);
    o[0] = make_float4(v[0], v[1], v[2], v[3]);
    o[1] = make_float4(v[4], v[5], v[6], v[7]);
  } else {
    uint32_t w[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const uint32_t lo =
          kOut == ElemType::kF16 ? FloatToHalfBits(v[2 * j]) : FloatToBFloat16Bits(v[2 * j]);
      const uint32_t hi = kOut == ElemType::kF16 ? FloatToHalfBits(v[2 * j + 1])
                                                 : FloatToBFloat16Bits(v[2 * j + 1]);
      w[j] = lo | hi << 16;
    }
    *reinterpret_cast<uint4*>(static_cast<uint16_t*>(out) + i) = make_uint4(w[0], w[1], w[2], w[3]);
  }
}

template <int kBits, ElemType kOut>
__global__ void __launch_bounds__(kDecompressThreads)
    DecompressHeadsKernel(const __grid_constant__ DecompressArgs a) {
  extern __shared__ __align__(16) unsigned char smem[];
  const uint32_t T = a.g.tokens, D = a.g.head_dim;
  const uint32_t octets = D / 8;  // per token row
  const uint32_t step_t = kDecompressThreads / octets, step_c = kDecompressThreads % octets;

  for (uint64_t h = blockIdx.x; h < a.g.num_heads; h += gridDim.x) {
    const uint32_t kind = static_cast<uint32_t>((h / a.g.kv_heads) % 2);
    const HeadLayout& l = a.g.layout[kind];
    const uint32_t r = l.rank;
    const char* in = a.block + a.g.HeadOffset(h);
    const HeadPlacement place = a.out_place.Head(h);  // rows of 8 * k elements: octets aligned
    void* out = static_cast<char*>(a.out) + place.base * ElemBytes(kOut);
    float* vt =
        a.vt_in_shared ? reinterpret_cast<float*>(smem) : a.scratch + uint64_t{blockIdx.x} * r * D;

    const bool int8_factors = l.factors == FactorPrecision::kInt8;
    const auto* u_scales = reinterpret_cast<const uint16_t*>(in + l.u_scales_offset);
    const auto* vt_h = reinterpret_cast<const uint16_t*>(in + l.vt_offset);  // always fp16
    for (uint32_t i = threadIdx.x; i < r * D; i += kDecompressThreads) {
      vt[i] = HalfBitsToFloat(vt_h[i]);
    }
    __syncthreads();

    const auto* codes = reinterpret_cast<const uint8_t*>(in + l.codes_offset);
    const auto* scales = reinterpret_cast<const uint16_t*>(in + l.scales_offset);
    const auto* zeros = reinterpret_cast<const uint16_t*>(in + l.zeros_offset);
    const auto* u_h = reinterpret_cast<const uint16_t*>(in + l.u_offset);
    const auto* u_q = reinterpret_cast<const int8_t*>(in + l.u_offset);
    const bool keys = l.kind == Kind::kKeys;
    const uint32_t per_row = CeilDiv(D, l.group_size);
    const bool octet_in_one_group = l.group_size % 8 == 0;
    constexpr unsigned long long kMask = (1ull << kBits) - 1;

    uint32_t t = threadIdx.x / octets, c = threadIdx.x % octets;
    while (t < T) {
      const uint32_t d = 8 * c;
      const uint64_t e = uint64_t{t} * D + d;
      const unsigned long long w = LoadOctet<kBits>(codes + e * kBits / 8);
      float scale[8], zero[8];
      if (keys) {  // 8 consecutive groups of token group t / G: one 16-byte load each
        const uint64_t g = uint64_t{a.group_div.Div(t)} * D + d;
        const uint4 s4 = *reinterpret_cast<const uint4*>(scales + g);
        const uint4 z4 = *reinterpret_cast<const uint4*>(zeros + g);
        const uint32_t sw[4] = {s4.x, s4.y, s4.z, s4.w}, zw[4] = {z4.x, z4.y, z4.z, z4.w};
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          scale[j] = HalfBitsToFloat(static_cast<uint16_t>(sw[j / 2] >> (16 * (j % 2))));
          zero[j] = HalfBitsToFloat(static_cast<uint16_t>(zw[j / 2] >> (16 * (j % 2))));
        }
      } else if (octet_in_one_group) {
        const uint64_t g = uint64_t{t} * per_row + a.group_div.Div(d);
        const float s = HalfBitsToFloat(scales[g]), z = HalfBitsToFloat(zeros[g]);
#pragma unroll
        for (int j = 0; j < 8; ++j) scale[j] = s, zero[j] = z;
      } else {
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          const uint64_t g = uint64_t{t} * per_row + a.group_div.Div(d + j);
          scale[j] = HalfBitsToFloat(scales[g]);
          zero[j] = HalfBitsToFloat(zeros[g]);
        }
      }
      float v[8];
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        v[j] = DequantizeCode(static_cast<float>((w >> (kBits * j)) & kMask), zero[j], scale[j]);
      }
      for (uint32_t j = 0; j < r; ++j) {
        const uint64_t uk = uint64_t{t} * r + j;
        const float uj = int8_factors ? DequantizeFactor(u_q[uk], HalfBitsToFloat(u_scales[j]))
                                      : HalfBitsToFloat(u_h[uk]);
        const float4 v0 = *reinterpret_cast<const float4*>(vt + uint64_t{j} * D + d);
        const float4 v1 = *reinterpret_cast<const float4*>(vt + uint64_t{j} * D + d + 4);
        v[0] = fmaf(uj, v0.x, v[0]);
        v[1] = fmaf(uj, v0.y, v[1]);
        v[2] = fmaf(uj, v0.z, v[2]);
        v[3] = fmaf(uj, v0.w, v[3]);
        v[4] = fmaf(uj, v1.x, v[4]);
        v[5] = fmaf(uj, v1.y, v[5]);
        v[6] = fmaf(uj, v1.z, v[6]);
        v[7] = fmaf(uj, v1.w, v[7]);
      }
      StoreOctet<kOut>(out, uint64_t{t} * place.row_stride + d, v);
      c += step_c;
      t += step_t;
      if (c >= octets) {
        c -= octets;
        ++t;
      }
    }

    if (l.outliers > 0) {
      __syncthreads();  // the dense values are written before outliers go over them
      const uint32_t* base = a.pool_base[kind];
      const auto* offsets = reinterpret_cast<const uint16_t*>(in + l.outlier_offsets_offset);
      const char* values = in + l.outlier_values_offset;
      for (uint32_t p = WarpId(); p < l.pools; p += kDecompressWarps) {
        const uint32_t b = base[p], count = base[p + 1] - b;
        const uint32_t pool_size = PoolSize(l.kind, T, D, p);
        for (uint32_t i = LaneId(); i < count; i += 32) {
          const uint32_t off = offsets[b + i];
          if (off >= pool_size) {
            atomicOr(&a.status->malformed, 1u);
            continue;
          }
          // keys: token off of channel p; values: token p * 8 + off / D, channel off % D.
          const uint64_t el =
              keys ? uint64_t{off} * place.row_stride + p
                   : (uint64_t{p} * kValuePoolTokens + off / D) * place.row_stride + off % D;
          if (a.block_dtype == kOut) {  // exact bits
            if constexpr (kOut == ElemType::kF32) {
              static_cast<uint32_t*>(out)[el] = reinterpret_cast<const uint32_t*>(values)[b + i];
            } else {
              static_cast<uint16_t*>(out)[el] = reinterpret_cast<const uint16_t*>(values)[b + i];
            }
          } else {
            StoreElement(out, kOut, el, LoadElement(values, a.block_dtype, b + i));
          }
        }
      }
    }
    __syncthreads();  // before the next head overwrites vt
  }
}

template <int kBits, ElemType kOut>
cudaError_t LaunchDecompressHeads(const DecompressArgs& a, cudaStream_t stream) {
  const size_t shared = a.vt_in_shared ? sizeof(float) * a.g.layout[0].rank * a.g.head_dim : 0;
  DecompressHeadsKernel<kBits, kOut><<<a.grid, kDecompressThreads, shared, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace gearkv::internal::cuda

#endif  // GEARKV_KERNELS_CUDA_DECOMPRESS_KERNEL_CUH_
