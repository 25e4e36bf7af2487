#include "cpu/outliers.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "cpu/simd.h"

namespace gearkv::internal {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
// Value pools use at most this many Float8 accumulators (64 subsets) for their thresholds.
constexpr uint32_t kMaxSubsetVectors = 8;

struct Candidate {
  uint32_t offset;  // inside the pool
  float value;
};

// Candidate thresholds of a pool: its entries are split into m >= k interleaved subsets; the
// k-th largest of the subset maxima is at most the pool's k-th largest entry (the k subsets
// reaching it hold k distinct entries), and likewise for minima. Every entry >= hi or <= lo is
// a candidate, so the k largest and k smallest are among the candidates.
struct Thresholds {
  float hi, lo;
};

// Subsets per pool: enough for a tight bound, at most the pool size (no subset is empty).
uint32_t SubsetCount(uint32_t k, uint32_t pool_size) {
  return std::min(pool_size, std::max<uint32_t>(8, 3 * k));
}

Thresholds FromSubsetExtremes(std::vector<float>& maxima, std::vector<float>& minima, uint32_t k) {
  std::nth_element(maxima.begin(), maxima.begin() + (k - 1), maxima.end(), std::greater<>());
  std::nth_element(minima.begin(), minima.begin() + (k - 1), minima.end());
  return {maxima[k - 1], minima[k - 1]};
}

// Appends the offsets of the k largest (ties: lower offset) and then the k smallest of the
// rest (ties: lower offset), in ascending order. Returns false, appending nothing, when there
// are fewer than 2k candidates; the caller then passes every entry of the pool.
bool ChooseExtremes(Candidate* begin, Candidate* end, uint32_t k, std::vector<uint32_t>& chosen) {
  const ptrdiff_t n = end - begin;
  if (n < 2 * static_cast<ptrdiff_t>(k)) return false;
  std::sort(begin, end, [](const Candidate& a, const Candidate& b) {
    return a.value < b.value || (a.value == b.value && a.offset < b.offset);
  });
  // Largest: everything above the k-th largest value, then the lowest offsets among the entries
  // equal to it (they sit in ascending offset order at the start of their run).
  const float kth = begin[n - k].value;
  const Candidate* run =
      std::lower_bound(begin, end, kth, [](const Candidate& c, float v) { return c.value < v; });
  const ptrdiff_t above = end - std::upper_bound(begin, end, kth, [](float v, const Candidate& c) {
                            return v < c.value;
                          });
  const ptrdiff_t from_run = k - above;  // taken from the run of entries equal to kth
  const size_t first = chosen.size();
  for (ptrdiff_t i = 0; i < from_run; ++i) chosen.push_back(run[i].offset);
  for (const Candidate* c = end - above; c < end; ++c) chosen.push_back(c->offset);
  // Smallest: the first k entries not taken above (taken ones are inside [run, run + from_run)
  // or at the end).
  uint32_t taken = 0;
  for (const Candidate* c = begin; taken < k; ++c) {
    if (c >= run && c < run + from_run) continue;
    chosen.push_back(c->offset);
    ++taken;
  }
  std::sort(chosen.begin() + first, chosen.end());
  return true;
}

// Keys: pool = one channel over all tokens. Every channel is processed at once, row by row, so
// the inner loops run along contiguous channels.
void SelectKeyOutliers(const HeadLayout& l, double ratio, const float* x,
                       std::vector<Candidate>& cand, std::vector<uint32_t>& chosen) {
  const uint32_t T = l.tokens, D = l.head_dim;
  std::vector<uint32_t> k(D);
  uint32_t k_max = 0;
  for (uint32_t d = 0; d < D; ++d) k_max = std::max(k_max, k[d] = OutliersPerSide(ratio, T, d));
  if (k_max == 0) return;
  const uint32_t m = SubsetCount(k_max, T);
  std::vector<float> mx(size_t{m} * D, -kInf), mn(size_t{m} * D, kInf);
  for (uint32_t t = 0; t < T; ++t) {
    const float* row = x + size_t{t} * D;
    float* a = mx.data() + size_t{t % m} * D;
    float* b = mn.data() + size_t{t % m} * D;
    for (uint32_t d = 0; d < D; ++d) {
      a[d] = row[d] > a[d] ? row[d] : a[d];
      b[d] = row[d] < b[d] ? row[d] : b[d];
    }
  }
  // Per channel, the k_max largest subset maxima (and smallest minima), kept sorted by an
  // insertion network that runs along the channels; then hi[d] = the k[d]-th of them.
  std::vector<float> top(size_t{k_max} * D, -kInf), bottom(size_t{k_max} * D, kInf);
  std::vector<float> up(D), down(D);  // the values being inserted, per channel
  for (uint32_t j = 0; j < m; ++j) {
    std::copy_n(mx.data() + size_t{j} * D, D, up.data());
    std::copy_n(mn.data() + size_t{j} * D, D, down.data());
    for (uint32_t i = 0; i < k_max; ++i) {
      float* t = top.data() + size_t{i} * D;
      float* b = bottom.data() + size_t{i} * D;
      for (uint32_t d = 0; d < D; ++d) {  // vectorised along the channels
        const float v = up[d], w = down[d];
        up[d] = v > t[d] ? t[d] : v;
        down[d] = w < b[d] ? b[d] : w;
        t[d] = v > t[d] ? v : t[d];
        b[d] = w < b[d] ? w : b[d];
      }
    }
  }
  std::vector<float> hi(D, kInf), lo(D, -kInf);
  for (uint32_t d = 0; d < D; ++d) {
    if (k[d] == 0) continue;  // +-inf: no candidate
    hi[d] = top[size_t{k[d] - 1} * D + d];
    lo[d] = bottom[size_t{k[d] - 1} * D + d];
  }
  // Candidates in (token, channel) order, then bucketed by channel (a stable counting sort).
  thread_local std::vector<std::pair<uint32_t, Candidate>> found;
  found.clear();
  for (uint32_t t = 0; t < T; ++t) {
    const float* row = x + size_t{t} * D;
    for (uint32_t d0 = 0; d0 < D; d0 += 8) {
      for (unsigned bits = OutsideMask8(Load8(row + d0), Load8(&hi[d0]), Load8(&lo[d0])); bits;
           bits &= bits - 1) {
        const uint32_t d = d0 + std::countr_zero(bits);
        found.push_back({d, {t, row[d]}});
      }
    }
  }
  std::vector<uint32_t> start(D + 1, 0);
  for (const auto& f : found) ++start[f.first + 1];
  for (uint32_t d = 0; d < D; ++d) start[d + 1] += start[d];
  cand.resize(found.size());
  std::vector<uint32_t> fill(start.begin(), start.end() - 1);
  for (const auto& f : found) cand[fill[f.first]++] = f.second;
  for (uint32_t d = 0; d < D; ++d) {
    if (k[d] == 0) continue;
    if (!ChooseExtremes(cand.data() + start[d], cand.data() + start[d + 1], k[d], chosen)) {
      std::vector<Candidate> all(T);
      for (uint32_t t = 0; t < T; ++t) all[t] = {t, x[size_t{t} * D + d]};
      ChooseExtremes(all.data(), all.data() + T, k[d], chosen);
    }
  }
}

// Values: pool = kValuePoolTokens consecutive rows, contiguous in memory.
void SelectValueOutliers(const HeadLayout& l, double ratio, const float* x,
                         std::vector<Candidate>& cand, std::vector<uint32_t>& chosen) {
  const uint32_t D = l.head_dim;
  std::vector<float> mx, mn;
  for (uint32_t p = 0; p < l.pools; ++p) {
    const uint32_t n = PoolSize(Kind::kValues, l.tokens, D, p);
    const uint32_t k = OutliersPerSide(ratio, n, p);
    if (k == 0) continue;
    const float* pool = x + size_t{p} * kValuePoolTokens * D;
    // m = 8 * vecs interleaved subsets (lanes of Float8 accumulators); n is a multiple of 8
    // (head_dim is), and m <= n keeps every subset non-empty.
    const uint32_t vecs = std::min<uint32_t>({kMaxSubsetVectors, (3 * k + 7) / 8, n / 8});
    Float8 vmax[kMaxSubsetVectors], vmin[kMaxSubsetVectors];
    for (uint32_t v = 0; v < vecs; ++v) vmax[v] = Broadcast8(-kInf), vmin[v] = Broadcast8(kInf);
    for (uint32_t i = 0, v = 0; i < n; i += 8, v = v + 1 == vecs ? 0 : v + 1) {
      const Float8 e = Load8(pool + i);
      vmax[v] = e > vmax[v] ? e : vmax[v];
      vmin[v] = e < vmin[v] ? e : vmin[v];
    }
    mx.resize(8 * vecs);
    mn.resize(8 * vecs);
    for (uint32_t v = 0; v < vecs; ++v) {
      Store8(&mx[8 * v], vmax[v]);
      Store8(&mn[8 * v], vmin[v]);
    }
    // With more outliers than subsets there is no bound: every entry is a candidate.
    const Thresholds th = k <= 8 * vecs ? FromSubsetExtremes(mx, mn, k) : Thresholds{-kInf, kInf};
    const Float8 hi = Broadcast8(th.hi), lo = Broadcast8(th.lo);
    cand.clear();
    for (uint32_t i = 0; i < n; i += 8) {
      for (unsigned bits = OutsideMask8(Load8(pool + i), hi, lo); bits; bits &= bits - 1) {
        const uint32_t e = i + std::countr_zero(bits);
        cand.push_back({e, pool[e]});
      }
    }
    if (!ChooseExtremes(cand.data(), cand.data() + cand.size(), k, chosen)) {
      cand.resize(n);
      for (uint32_t e = 0; e < n; ++e) cand[e] = {e, pool[e]};
      ChooseExtremes(cand.data(), cand.data() + n, k, chosen);
    }
  }
}

}  // namespace

void SelectOutliers(const HeadLayout& l, double ratio, float* x, uint16_t* offsets,
                    uint32_t* indices) {
  if (l.outliers == 0) return;
  thread_local std::vector<Candidate> cand;
  thread_local std::vector<uint32_t> chosen;
  chosen.clear();
  if (l.kind == Kind::kKeys) {
    SelectKeyOutliers(l, ratio, x, cand, chosen);
  } else {
    SelectValueOutliers(l, ratio, x, cand, chosen);
  }
  // `chosen` holds layout.outliers offsets, pools in order; map them to element indices.
  uint64_t at = 0;
  for (uint32_t p = 0; p < l.pools; ++p) {
    const uint32_t n = 2 * OutliersPerSide(ratio, PoolSize(l.kind, l.tokens, l.head_dim, p), p);
    for (uint32_t i = 0; i < n; ++i, ++at) {
      const uint32_t off = chosen[at];
      offsets[at] = static_cast<uint16_t>(off);
      indices[at] =
          l.kind == Kind::kKeys ? off * l.head_dim + p : p * kValuePoolTokens * l.head_dim + off;
    }
  }
  for (uint64_t i = 0; i < l.outliers; ++i) x[indices[i]] = std::nanf("");
}

}  // namespace gearkv::internal
