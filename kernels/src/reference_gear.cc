#include "reference_gear.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "half.h"

namespace gearkv::internal {
namespace {

double Half(double v) { return RoundToHalf(static_cast<float>(v)); }

// Element indices (into x) of pool p, in pool-offset order.
std::vector<uint64_t> PoolElements(Kind kind, uint32_t T, uint32_t D, uint32_t p) {
  std::vector<uint64_t> e;
  if (kind == Kind::kKeys) {
    for (uint32_t t = 0; t < T; ++t) e.push_back(uint64_t{t} * D + p);
  } else {
    const uint64_t first = uint64_t{p} * kValuePoolTokens * D;
    for (uint64_t i = 0; i < PoolSize(kind, T, D, p); ++i) e.push_back(first + i);
  }
  return e;
}

// Dequantized values of the group of entries `idx` (outliers excluded from its range).
void QuantizeGroup(const std::vector<double>& x, const std::vector<bool>& mask,
                   const std::vector<uint64_t>& idx, uint32_t bits, std::vector<double>& out) {
  double mn = INFINITY, mx = -INFINITY;
  for (uint64_t i : idx) {
    if (!mask[i]) mn = std::min(mn, x[i]), mx = std::max(mx, x[i]);
  }
  if (!(mn <= mx)) mn = mx = 0;
  const double levels = (1u << bits) - 1;
  const double zero = Half(mn);
  const double scale = Half(std::max(0.0, (mx - zero) / levels));
  for (uint64_t i : idx) {
    double code = scale > 0 ? std::nearbyint((x[i] - zero) / scale) : 0;
    code = std::clamp(code, 0.0, levels);
    out[i] = code * scale + zero;
  }
}

// A column of u as stored in int8 with one fp16 scale (format version 2): every entry replaced
// by its dequantized value, with the codec's FactorScale / QuantizeFactor on fp32 values.
void RoundFactorVector(std::vector<double>& v) {
  double max_abs = 0;
  for (double e : v) max_abs = std::max(max_abs, std::abs(e));
  const float scale = FactorScale(static_cast<float>(max_abs)), inv = FactorInvScale(scale);
  for (double& e : v) e = DequantizeFactor(QuantizeFactor(static_cast<float>(e), inv), scale);
}

// Gram-Schmidt; a vector left with under 1e-4 of its norm lies in the span of the previous
// ones and becomes zero (as in the codec).
void Orthonormalize(std::vector<std::vector<double>>& v) {
  for (size_t i = 0; i < v.size(); ++i) {
    const double before = std::inner_product(v[i].begin(), v[i].end(), v[i].begin(), 0.0);
    for (size_t j = 0; j < i; ++j) {
      const double dot = std::inner_product(v[i].begin(), v[i].end(), v[j].begin(), 0.0);
      for (size_t e = 0; e < v[i].size(); ++e) v[i][e] -= dot * v[j][e];
    }
    const double after = std::inner_product(v[i].begin(), v[i].end(), v[i].begin(), 0.0);
    const bool keep = after > 0 && after > 1e-8 * before;
    for (double& e : v[i]) e = keep ? e / std::sqrt(after) : 0.0;
  }
}

}  // namespace

std::vector<bool> ReferenceOutlierMask(const std::vector<double>& x, Kind kind, uint32_t T,
                                       uint32_t D, double ratio) {
  std::vector<bool> mask(x.size(), false);
  if (ratio <= 0) return mask;
  for (uint32_t p = 0; p < PoolCount(kind, T, D); ++p) {
    std::vector<uint64_t> e = PoolElements(kind, T, D, p);
    const uint32_t k = OutliersPerSide(ratio, e.size(), p);
    std::vector<size_t> order(e.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return x[e[a]] > x[e[b]]; });
    for (uint32_t i = 0; i < k; ++i) mask[e[order[i]]] = true;
    std::stable_sort(order.begin() + k, order.end(),
                     [&](size_t a, size_t b) { return x[e[a]] < x[e[b]]; });
    for (uint32_t i = 0; i < k; ++i) mask[e[order[k + i]]] = true;
  }
  return mask;
}

std::vector<double> ReferenceGearHead(const std::vector<double>& x, Kind kind, uint32_t T,
                                      uint32_t D, const CodecSpec& spec, uint64_t head_index) {
  const std::vector<bool> mask = ReferenceOutlierMask(x, kind, T, D, spec.outlier_ratio);
  std::vector<double> deq(x.size());
  const uint32_t G = spec.group_size;
  if (kind == Kind::kKeys) {
    for (uint32_t t0 = 0; t0 < T; t0 += G) {
      for (uint32_t d = 0; d < D; ++d) {
        std::vector<uint64_t> idx;
        for (uint32_t t = t0; t < std::min(T, t0 + G); ++t) idx.push_back(uint64_t{t} * D + d);
        QuantizeGroup(x, mask, idx, spec.bits, deq);
      }
    }
  } else {
    for (uint32_t t = 0; t < T; ++t) {
      for (uint32_t d0 = 0; d0 < D; d0 += G) {
        std::vector<uint64_t> idx;
        for (uint32_t d = d0; d < std::min(D, d0 + G); ++d) idx.push_back(uint64_t{t} * D + d);
        QuantizeGroup(x, mask, idx, spec.bits, deq);
      }
    }
  }
  std::vector<double> out = deq;
  const uint32_t r = spec.rank;
  if (r > 0) {
    std::vector<double> res(x.size());
    for (size_t i = 0; i < x.size(); ++i) res[i] = mask[i] ? 0.0 : x[i] - deq[i];
    std::vector<std::vector<double>> p(r, std::vector<double>(D)), q(r, std::vector<double>(T));
    for (uint32_t j = 0; j < r; ++j) {
      for (uint32_t d = 0; d < D; ++d)
        p[j][d] = StartMatrixEntry(StartMatrixStream(spec.seed, head_index), d, j, r);
    }
    for (uint32_t it = 0; it < spec.power_iterations; ++it) {
      Orthonormalize(p);
      for (uint32_t j = 0; j < r; ++j) {
        for (uint32_t t = 0; t < T; ++t) {
          double acc = 0;
          for (uint32_t d = 0; d < D; ++d) acc += res[uint64_t{t} * D + d] * p[j][d];
          q[j][t] = acc;
        }
      }
      Orthonormalize(q);
      if (it + 1 == spec.power_iterations) {
        for (auto& col : q) RoundFactorVector(col);  // u as stored: int8 per column
      }
      for (uint32_t j = 0; j < r; ++j) {
        std::fill(p[j].begin(), p[j].end(), 0.0);
        for (uint32_t t = 0; t < T; ++t) {
          for (uint32_t d = 0; d < D; ++d) p[j][d] += q[j][t] * res[uint64_t{t} * D + d];
        }
      }
    }
    for (auto& row : p) {
      for (double& e : row) e = Half(e);  // vt as stored: fp16
    }
    for (uint32_t t = 0; t < T; ++t) {
      for (uint32_t d = 0; d < D; ++d) {
        for (uint32_t j = 0; j < r; ++j) out[uint64_t{t} * D + d] += q[j][t] * p[j][d];
      }
    }
  }
  for (size_t i = 0; i < x.size(); ++i) {
    if (mask[i]) out[i] = x[i];
  }
  return out;
}

}  // namespace gearkv::internal
