#include "cpu/low_rank.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gear_math.h"
#include "cpu/simd.h"
#include "half.h"

namespace gearkv::internal {
namespace {

// Modified Gram-Schmidt on `count` vectors of length n, vector i at v + i * stride_vec with
// elements stride_el apart; sums in double. A vector whose norm collapses (linearly dependent
// or zero) becomes zero.
void Orthonormalize(float* v, uint32_t count, uint32_t n, size_t stride_vec, size_t stride_el) {
  for (uint32_t i = 0; i < count; ++i) {
    float* vi = v + i * stride_vec;
    for (uint32_t j = 0; j < i; ++j) {
      const float* vj = v + j * stride_vec;
      double dot = 0;
      for (uint32_t e = 0; e < n; ++e) dot += double{vi[e * stride_el]} * vj[e * stride_el];
      const float f = static_cast<float>(dot);
      for (uint32_t e = 0; e < n; ++e) vi[e * stride_el] -= f * vj[e * stride_el];
    }
    double norm2 = 0;
    for (uint32_t e = 0; e < n; ++e) norm2 += double{vi[e * stride_el]} * vi[e * stride_el];
    const float inv = norm2 > 1e-30 ? static_cast<float>(1.0 / std::sqrt(norm2)) : 0.0f;
    for (uint32_t e = 0; e < n; ++e) vi[e * stride_el] *= inv;
  }
}

// The two products of a subspace iteration, over a block of kR <= 4 consecutive rank columns
// (j0 .. j0 + kR - 1) at a time so that the accumulators stay in vector registers. head_dim is
// a multiple of 8 (ValidateShape), so rows split into whole Float8 lanes.

// q[t * rank + j] = dot(r[t, :], pt[j, :]) for every token t and j in the block.
template <int kR>
void MultiplyRPBlock(const float* r, uint32_t T, uint32_t D, const float* pt, uint32_t rank,
                     uint32_t j0, float* q) {
  for (uint32_t t = 0; t < T; ++t) {
    const float* row = r + size_t{t} * D;
    Float8 acc[kR] = {};
    for (uint32_t d = 0; d < D; d += 8) {
      const Float8 x = Load8(row + d);
      for (int j = 0; j < kR; ++j) acc[j] += x * Load8(pt + size_t{j0 + j} * D + d);
    }
    for (int j = 0; j < kR; ++j) q[size_t{t} * rank + j0 + j] = Sum8(acc[j]);
  }
}

// pt[j, :] = sum_t q[t * rank + j] * r[t, :] for j in the block, 16 channels at a time.
template <int kR>
void MultiplyRtQBlock(const float* r, uint32_t T, uint32_t D, const float* q, uint32_t rank,
                      uint32_t j0, float* pt) {
  for (uint32_t d0 = 0; d0 < D; d0 += 16) {
    if (d0 + 16 <= D) {
      Float8 lo[kR] = {}, hi[kR] = {};
      for (uint32_t t = 0; t < T; ++t) {
        const float* row = r + size_t{t} * D + d0;
        const Float8 a = Load8(row), b = Load8(row + 8);
        for (int j = 0; j < kR; ++j) {
          const Float8 f = Broadcast8(q[size_t{t} * rank + j0 + j]);
          lo[j] += f * a;
          hi[j] += f * b;
        }
      }
      for (int j = 0; j < kR; ++j) {
        Store8(pt + size_t{j0 + j} * D + d0, lo[j]);
        Store8(pt + size_t{j0 + j} * D + d0 + 8, hi[j]);
      }
    } else {  // 8 channels left
      Float8 acc[kR] = {};
      for (uint32_t t = 0; t < T; ++t) {
        const Float8 a = Load8(r + size_t{t} * D + d0);
        for (int j = 0; j < kR; ++j) acc[j] += Broadcast8(q[size_t{t} * rank + j0 + j]) * a;
      }
      for (int j = 0; j < kR; ++j) Store8(pt + size_t{j0 + j} * D + d0, acc[j]);
    }
  }
}

// Runs Kernel<kR> over the rank in blocks of at most 4 columns.
template <template <int> class Kernel, typename... Args>
void OverRankBlocks(uint32_t rank, Args... args) {
  for (uint32_t j0 = 0; j0 < rank; j0 += 4) {
    switch (std::min(4u, rank - j0)) {
      case 1: Kernel<1>::Run(args..., j0); break;
      case 2: Kernel<2>::Run(args..., j0); break;
      case 3: Kernel<3>::Run(args..., j0); break;
      default: Kernel<4>::Run(args..., j0); break;
    }
  }
}

template <int kR>
struct MultiplyRP {
  static void Run(const float* r, uint32_t T, uint32_t D, const float* pt, uint32_t rank,
                  float* q, uint32_t j0) {
    MultiplyRPBlock<kR>(r, T, D, pt, rank, j0, q);
  }
};
template <int kR>
struct MultiplyRtQ {
  static void Run(const float* r, uint32_t T, uint32_t D, const float* q, uint32_t rank,
                  float* pt, uint32_t j0) {
    MultiplyRtQBlock<kR>(r, T, D, q, rank, j0, pt);
  }
};

}  // namespace

void FitLowRank(const float* r, uint32_t T, uint32_t D, uint32_t rank, uint32_t iterations,
                uint32_t seed, uint64_t head_index, uint16_t* u, uint16_t* vt) {
  thread_local std::vector<float> pt_buf, q_buf;
  pt_buf.resize(size_t{rank} * D);
  q_buf.resize(size_t{T} * rank);
  float* pt = pt_buf.data();
  float* q = q_buf.data();
  for (uint32_t j = 0; j < rank; ++j) {
    for (uint32_t d = 0; d < D; ++d)
      pt[size_t{j} * D + d] = StartMatrixEntry(seed, head_index, d, j, rank);
  }
  for (uint32_t it = 0; it < iterations; ++it) {
    Orthonormalize(pt, rank, D, D, 1);
    OverRankBlocks<MultiplyRP>(rank, r, T, D, static_cast<const float*>(pt), rank, q);
    Orthonormalize(q, rank, T, 1, rank);
    if (it + 1 == iterations) {
      for (size_t i = 0; i < size_t{T} * rank; ++i) q[i] = RoundToHalf(q[i]);
    }
    OverRankBlocks<MultiplyRtQ>(rank, r, T, D, static_cast<const float*>(q), rank, pt);
  }
  for (size_t i = 0; i < size_t{T} * rank; ++i) u[i] = FloatToHalf(q[i]);
  for (size_t i = 0; i < size_t{rank} * D; ++i) vt[i] = FloatToHalf(pt[i]);
}

void AddLowRankRow(const float* u_row, const float* vt, uint32_t rank, uint32_t D, float* out) {
  for (uint32_t d = 0; d < D; d += 8) {
    Float8 acc = Load8(out + d);
    for (uint32_t j = 0; j < rank; ++j) acc += Broadcast8(u_row[j]) * Load8(vt + size_t{j} * D + d);
    Store8(out + d, acc);
  }
}

}  // namespace gearkv::internal
