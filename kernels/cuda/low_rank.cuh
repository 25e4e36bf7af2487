// Low-rank factors of a quantization residual on the GPU (the L of GEAR): block-level subspace
// iteration over one head held in the CTA's workspace, the same algorithm as cpu/low_rank.h:
//   P = start matrix (StartMatrixEntry); repeat `iterations` times:
//     P = orth(P); Q = orth(R P); P = R^T Q
//   where, in the last round, Q is quantized as the block stores U (FactorScale / QuantizeFactor
//   of gear_math.h, as the CPU backend) and replaced by its dequantized value before P = R^T Q,
//   so that Vt = P^T is fitted to the stored U. U, its scales and Vt are written as
//   kernels/block_format.md lays out a head record.
// orth() is Gram-Schmidt expressed through the Gram matrix: G = V^T V summed in double, its
// Cholesky factor with the same "a vector whose norm collapses becomes zero" rule, then
// V <- V C with C = R^-1. In exact arithmetic this is the CPU's modified Gram-Schmidt; the
// results differ in the last bits (the codec's contract allows that for the factors).
// Products are split over ranges of the summed dimension with partial sums added in a fixed
// order, so every result is deterministic.
#ifndef GEARKV_KERNELS_CUDA_LOW_RANK_CUH_
#define GEARKV_KERNELS_CUDA_LOW_RANK_CUH_

#include <cstdint>

#include "device_util.cuh"
#include "gear_launch.h"
#include "gear_math.h"

namespace gearkv::internal::cuda {

inline constexpr uint32_t kCompressWarps = kCompressThreads / 32;

// Pointers into one CTA's workspace (see CompressWorkspace).
struct LowRankBuffers {
  float* x;  // residual [tokens][ld]
  uint32_t ld;
  float* p;  // [head_dim][r4]
  float* q;  // [tokens][r4]
  float* part;
  double* gram;  // [rank][rank] + [rank]
  double* cbuf;  // [rank][rank]
  float* coef;   // [rank][rank]
  uint32_t r4, rp_splits, rtq_splits;
};

// Warp 0: Cholesky factor of the Gram matrix in gram's upper triangle (diagonal of G saved at
// gram[r*r + i]), column i set to zero when the remaining squared norm is <= 1e-30 or <= 1e-10
// of the vector's own; then coef = C with V C orthonormal (C upper triangular, zero columns for
// collapsed vectors).
__device__ inline void GramToCoefficients(double* a, double* cbuf, float* coef, uint32_t r) {
  const uint32_t lane = LaneId();
  const double* diag0 = a + r * r;
  for (uint32_t k = 0; k < r; ++k) {
    if (lane == 0) {
      const double d = a[k * r + k];
      a[k * r + k] = (d > 1e-30 && d > 1e-10 * diag0[k]) ? sqrt(d) : 0.0;
    }
    __syncwarp();
    const double rkk = a[k * r + k];
    for (uint32_t j = k + 1 + lane; j < r; j += 32) a[k * r + j] = rkk > 0 ? a[k * r + j] / rkk : 0;
    __syncwarp();
    for (uint32_t i = k + 1 + lane; i < r; i += 32) {
      const double aki = a[k * r + i];
      for (uint32_t j = i; j < r; ++j) a[i * r + j] -= aki * a[k * r + j];
    }
    __syncwarp();
  }
  // Row m of C: C[m][i] = (delta(m, i) - sum_{m <= k < i} C[m][k] R[k][i]) / R[i][i].
  for (uint32_t m = lane; m < r; m += 32) {
    for (uint32_t i = 0; i < r; ++i) {
      double c = 0;
      const double rii = a[i * r + i];
      if (i >= m && rii > 0) {
        double s = i == m ? 1.0 : 0.0;
        for (uint32_t k = m; k < i; ++k) s -= cbuf[m * r + k] * a[k * r + i];
        c = s / rii;
      }
      cbuf[m * r + i] = c;
      coef[m * r + i] = static_cast<float>(c);
    }
  }
}

// Orthonormalises the first r columns of v ([n][ld] fp32). Every thread of the CTA calls it; it
// ends with a barrier.
__device__ inline void OrthonormalizeColumns(float* v, uint32_t n, uint32_t ld, uint32_t r,
                                             const LowRankBuffers& b) {
  const uint32_t lane = LaneId();
  const uint32_t pairs = r * (r + 1) / 2;
  for (uint32_t pair = WarpId(); pair < pairs; pair += kCompressWarps) {
    uint32_t i = 0, rest = pair;
    while (rest >= r - i) {
      rest -= r - i;
      ++i;
    }
    const uint32_t j = i + rest;
    double s = 0;
    for (uint32_t e = lane; e < n; e += 32) {
      s = fma(static_cast<double>(v[uint64_t{e} * ld + i]),
              static_cast<double>(v[uint64_t{e} * ld + j]), s);
    }
    s = WarpSum(s);
    if (lane == 0) {
      b.gram[i * r + j] = s;
      if (i == j) b.gram[r * r + i] = s;
    }
  }
  __syncthreads();
  if (WarpId() == 0) GramToCoefficients(b.gram, b.cbuf, b.coef, r);
  __syncthreads();
  for (uint32_t e = threadIdx.x; e < n; e += kCompressThreads) {
    float* row = v + uint64_t{e} * ld;
    // Column i of the result needs the old columns 0..i: go from the last column down.
    for (int i = static_cast<int>(r) - 1; i >= 0; --i) {
      float acc = 0;
      for (int m = 0; m <= i; ++m) acc = fmaf(row[m], b.coef[m * r + i], acc);
      row[i] = acc;
    }
  }
  __syncthreads();
}

// out[i] = sum over s < splits of part[s * n + i], for i < n, when a product was split in
// `splits` ranges (nothing to do for one: it wrote `out` directly). Ends with a barrier.
__device__ inline void SumPartials(const float* part, uint32_t splits, uint64_t n, float* out) {
  if (splits <= 1) return;
  for (uint64_t i = threadIdx.x; i < n; i += kCompressThreads) {
    float acc = 0;
    for (uint32_t s = 0; s < splits; ++s) acc += part[s * n + i];
    out[i] = acc;
  }
  __syncthreads();
}

// q[t][:] = sum_d x[t][d] p[d][:], head_dim split in rp_splits ranges.
__device__ inline void MultiplyRP(const LowRankBuffers& b, uint32_t T, uint32_t D) {
  const uint32_t splits = b.rp_splits, r4 = b.r4;
  const uint32_t chunk = (D + splits - 1) / splits;
  float* dst = splits > 1 ? b.part : b.q;
  for (uint32_t i = threadIdx.x; i < T * splits; i += kCompressThreads) {
    const uint32_t t = i % T, s = i / T;
    const uint32_t d0 = s * chunk, d1 = min(D, d0 + chunk);
    const float* row = b.x + uint64_t{t} * b.ld;
    for (uint32_t jc = 0; jc < r4; jc += 4) {
      float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (uint32_t d = d0; d < d1; ++d) {
        const float rv = row[d];
        const float4 pv = *reinterpret_cast<const float4*>(b.p + uint64_t{d} * r4 + jc);
        a0 = fmaf(rv, pv.x, a0);
        a1 = fmaf(rv, pv.y, a1);
        a2 = fmaf(rv, pv.z, a2);
        a3 = fmaf(rv, pv.w, a3);
      }
      *reinterpret_cast<float4*>(dst + (uint64_t{s} * T + t) * r4 + jc) =
          make_float4(a0, a1, a2, a3);
    }
  }
  __syncthreads();
  SumPartials(b.part, splits, uint64_t{T} * r4, b.q);
}

// p[d][:] = sum_t x[t][d] q[t][:], tokens split in rtq_splits ranges.
__device__ inline void MultiplyRtQ(const LowRankBuffers& b, uint32_t T, uint32_t D) {
  const uint32_t splits = b.rtq_splits, r4 = b.r4;
  const uint32_t chunk = (T + splits - 1) / splits;
  float* dst = splits > 1 ? b.part : b.p;
  for (uint32_t i = threadIdx.x; i < D * splits; i += kCompressThreads) {
    const uint32_t d = i % D, s = i / D;
    const uint32_t t0 = s * chunk, t1 = min(T, t0 + chunk);
    for (uint32_t jc = 0; jc < r4; jc += 4) {
      float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (uint32_t t = t0; t < t1; ++t) {
        const float xv = b.x[uint64_t{t} * b.ld + d];
        const float4 qv = *reinterpret_cast<const float4*>(b.q + uint64_t{t} * r4 + jc);
        a0 = fmaf(xv, qv.x, a0);
        a1 = fmaf(xv, qv.y, a1);
        a2 = fmaf(xv, qv.z, a2);
        a3 = fmaf(xv, qv.w, a3);
      }
      *reinterpret_cast<float4*>(dst + (uint64_t{s} * D + d) * r4 + jc) =
          make_float4(a0, a1, a2, a3);
    }
  }
  __syncthreads();
  SumPartials(b.part, splits, uint64_t{D} * r4, b.p);
}

// Quantizes each of the first r columns of v ([n][ld] fp32) as one int8 factor column: warp w
// takes the largest magnitude of columns w, w + warps, ... (a warp reduction), writes the
// column's FactorScale (fp16 bits) to scales[i] in the block; after a barrier (which makes the
// block's writes visible to the CTA), every thread quantizes entries: entry (e, i) goes to
// q[e * e_stride + i * i_stride], and, when write_back, v takes its dequantized value. Every
// thread of the CTA calls it; it ends with a barrier.
__device__ inline void QuantizeFactorColumns(float* v, uint32_t n, uint32_t ld, uint32_t r,
                                             int8_t* q, uint64_t e_stride, uint64_t i_stride,
                                             uint16_t* scales, bool write_back) {
  for (uint32_t i = WarpId(); i < r; i += kCompressWarps) {
    float m = 0.0f;
    for (uint32_t e = LaneId(); e < n; e += 32) m = fmaxf(m, fabsf(v[uint64_t{e} * ld + i]));
    m = __uint_as_float(WarpMax(__float_as_uint(m)));  // m >= 0: its bits order as its values
    if (LaneId() == 0) scales[i] = FloatToHalfBits(FactorScale(m));
  }
  __syncthreads();
  for (uint32_t k = threadIdx.x; k < n * r; k += kCompressThreads) {
    const uint32_t e = k / r, i = k % r;
    const float scale = HalfBitsToFloat(scales[i]);
    float* x = v + uint64_t{e} * ld + i;
    const int8_t qv = QuantizeFactor(*x, FactorInvScale(scale));
    q[e * e_stride + i * i_stride] = qv;
    if (write_back) *x = DequantizeFactor(qv, scale);
  }
  __syncthreads();
}

// Fits the factors to the residual in b.x and writes them to the head record's u, u scales
// and vt arrays (at u, u_scales, vt). Every thread of the CTA calls it; it ends with
// a barrier.
__device__ inline void FitLowRank(const LowRankBuffers& b, uint32_t T, uint32_t D, uint32_t r,
                                  uint32_t iterations, uint32_t seed, uint64_t head_index,
                                  int8_t* u, uint16_t* u_scales, uint16_t* vt) {
  const uint32_t r4 = b.r4;
  const uint64_t stream = StartMatrixStream(seed, head_index);
  for (uint32_t i = threadIdx.x; i < D * r4; i += kCompressThreads) {
    const uint32_t d = i / r4, j = i % r4;
    b.p[i] = j < r ? StartMatrixEntry(stream, d, j, r) : 0.0f;
  }
  __syncthreads();
  for (uint32_t it = 0; it < iterations; ++it) {
    OrthonormalizeColumns(b.p, D, r4, r, b);
    MultiplyRP(b, T, D);
    OrthonormalizeColumns(b.q, T, r4, r, b);
    if (it + 1 == iterations) {  // U as stored: u[t][j] = Q[t][j]
      QuantizeFactorColumns(b.q, T, r4, r, u, r, 1, u_scales, /*write_back=*/true);
    }
    MultiplyRtQ(b, T, D);
  }
  // Vt as stored: vt[j][d] = fp16(P[d][j]).
  for (uint32_t i = threadIdx.x; i < r * D; i += kCompressThreads) {
    const uint32_t j = i / D, d = i % D;
    vt[i] = FloatToHalfBits(b.p[uint64_t{d} * r4 + j]);
  }
  __syncthreads();
}

}  // namespace gearkv::internal::cuda

#endif  // GEARKV_KERNELS_CUDA_LOW_RANK_CUH_
