#include "cpu/low_rank.h"

#include <cmath>
#include <vector>

#include "gear_math.h"
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

// q[t * rank + j] = dot(r[t, :], pt[j, :]) for every token t and j < rank.
void MultiplyRP(const float* r, uint32_t T, uint32_t D, const float* pt, uint32_t rank, float* q) {
  for (uint32_t t = 0; t < T; ++t) {
    const float* row = r + size_t{t} * D;
    for (uint32_t j = 0; j < rank; ++j) {
      const float* p = pt + size_t{j} * D;
      float acc = 0.0f;
      for (uint32_t d = 0; d < D; ++d) acc += row[d] * p[d];
      q[size_t{t} * rank + j] = acc;
    }
  }
}

// pt[j, :] = sum_t q[t * rank + j] * r[t, :].
void MultiplyRtQ(const float* r, uint32_t T, uint32_t D, const float* q, uint32_t rank, float* pt) {
  std::fill(pt, pt + size_t{rank} * D, 0.0f);
  for (uint32_t t = 0; t < T; ++t) {
    const float* row = r + size_t{t} * D;
    for (uint32_t j = 0; j < rank; ++j) {
      const float f = q[size_t{t} * rank + j];
      float* p = pt + size_t{j} * D;
      for (uint32_t d = 0; d < D; ++d) p[d] += f * row[d];
    }
  }
}

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
    MultiplyRP(r, T, D, pt, rank, q);
    Orthonormalize(q, rank, T, 1, rank);
    if (it + 1 == iterations) {
      for (size_t i = 0; i < size_t{T} * rank; ++i) q[i] = RoundToHalf(q[i]);
    }
    MultiplyRtQ(r, T, D, q, rank, pt);
  }
  for (size_t i = 0; i < size_t{T} * rank; ++i) u[i] = FloatToHalf(q[i]);
  for (size_t i = 0; i < size_t{rank} * D; ++i) vt[i] = FloatToHalf(pt[i]);
}

void AddLowRankRow(const float* u_row, const float* vt, uint32_t rank, uint32_t D, float* out) {
  for (uint32_t j = 0; j < rank; ++j) {
    const float f = u_row[j];
    const float* v = vt + size_t{j} * D;
    for (uint32_t d = 0; d < D; ++d) out[d] += f * v[d];
  }
}

}  // namespace gearkv::internal
