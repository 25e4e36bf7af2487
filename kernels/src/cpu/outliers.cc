#include "cpu/outliers.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace gearkv::internal {
namespace {

struct Candidate {
  uint32_t pool;
  uint32_t offset;  // inside the pool
  float value;
};

// Picks, among the candidates of one pool (every entry >= the pool's k-th largest or <= its
// k-th smallest is among them), the k largest and the k smallest, and appends their offsets in
// ascending order. Returns false (appending nothing) when ties left fewer than 2k distinct
// candidates; the caller then retries with every entry of the pool as a candidate.
bool ChooseFromCandidates(Candidate* begin, Candidate* end, uint32_t k,
                          std::vector<uint32_t>& chosen) {
  if (k == 0) return true;
  if (end - begin < 2 * static_cast<ptrdiff_t>(k)) return false;
  const size_t first = chosen.size();
  std::sort(begin, end, [](const Candidate& a, const Candidate& b) {
    return a.value > b.value || (a.value == b.value && a.offset < b.offset);
  });
  for (Candidate* c = begin; c < begin + k; ++c) chosen.push_back(c->offset);
  // Smallest: walk from the low end, lower offset first among equals, skipping chosen ones.
  std::sort(begin + k, end, [](const Candidate& a, const Candidate& b) {
    return a.value < b.value || (a.value == b.value && a.offset < b.offset);
  });
  for (Candidate* c = begin + k; c < end && chosen.size() - first < 2 * k; ++c) {
    chosen.push_back(c->offset);
  }
  if (chosen.size() - first < 2 * k) {
    chosen.resize(first);
    return false;
  }
  std::sort(chosen.begin() + first, chosen.end());
  return true;
}

// Lower bound of the k-th largest and upper bound of the k-th smallest of a stream, from the
// maxima and minima of m >= k interleaved non-empty subsets: the m subset maxima are m distinct
// entries, so their minimum is at most the k-th largest.
struct Bounds {
  float hi, lo;
};

// Keys: pool = one channel over all tokens (strided). Processes every channel at once, row by
// row, so the inner loops run along contiguous channels.
void SelectKeyOutliers(const HeadLayout& l, double ratio, float* x, std::vector<Candidate>& cand,
                       std::vector<uint32_t>& chosen) {
  const uint32_t T = l.tokens, D = l.head_dim;
  uint32_t m = 0;  // subsets: the largest k of any channel
  std::vector<uint32_t> k(D);
  for (uint32_t d = 0; d < D; ++d) m = std::max(m, k[d] = OutliersPerSide(ratio, T, d));
  if (m == 0) return;
  std::vector<float> mx(size_t{m} * D, -std::numeric_limits<float>::infinity());
  std::vector<float> mn(size_t{m} * D, std::numeric_limits<float>::infinity());
  for (uint32_t t = 0; t < T; ++t) {
    const float* row = x + size_t{t} * D;
    float* a = mx.data() + size_t{t % m} * D;
    float* b = mn.data() + size_t{t % m} * D;
    for (uint32_t d = 0; d < D; ++d) {
      a[d] = row[d] > a[d] ? row[d] : a[d];
      b[d] = row[d] < b[d] ? row[d] : b[d];
    }
  }
  std::vector<float> hi(D, std::numeric_limits<float>::infinity());
  std::vector<float> lo(D, -std::numeric_limits<float>::infinity());
  for (uint32_t j = 0; j < m; ++j) {
    for (uint32_t d = 0; d < D; ++d) {
      hi[d] = std::min(hi[d], mx[size_t{j} * D + d]);
      lo[d] = std::max(lo[d], mn[size_t{j} * D + d]);
    }
  }
  cand.clear();
  for (uint32_t t = 0; t < T; ++t) {
    const float* row = x + size_t{t} * D;
    int any = 0;
    for (uint32_t d = 0; d < D; ++d) any |= (row[d] >= hi[d]) | (row[d] <= lo[d]);
    if (!any) continue;
    for (uint32_t d = 0; d < D; ++d) {
      if (row[d] >= hi[d] || row[d] <= lo[d]) cand.push_back({d, t, row[d]});
    }
  }
  std::stable_sort(cand.begin(), cand.end(),
                   [](const Candidate& a, const Candidate& b) { return a.pool < b.pool; });
  Candidate* c = cand.data();
  Candidate* const end = c + cand.size();
  for (uint32_t d = 0; d < D; ++d) {
    Candidate* stop = c;
    while (stop < end && stop->pool == d) ++stop;
    if (!ChooseFromCandidates(c, stop, k[d], chosen)) {
      std::vector<Candidate> all(T);
      for (uint32_t t = 0; t < T; ++t) all[t] = {d, t, x[size_t{t} * D + d]};
      ChooseFromCandidates(all.data(), all.data() + T, k[d], chosen);
    }
    c = stop;
  }
}

// Values: pool = kValuePoolTokens consecutive rows, contiguous in memory.
void SelectValueOutliers(const HeadLayout& l, double ratio, const float* x,
                         std::vector<Candidate>& cand, std::vector<uint32_t>& chosen) {
  constexpr uint32_t kLanes = 16;
  const uint32_t D = l.head_dim;
  for (uint32_t p = 0; p < l.pools; ++p) {
    const uint32_t n = PoolSize(Kind::kValues, l.tokens, D, p);
    const uint32_t k = OutliersPerSide(ratio, n, p);
    if (k == 0) continue;
    const float* pool = x + size_t{p} * kValuePoolTokens * D;
    // m interleaved subsets, a multiple of kLanes; n >= m keeps every subset non-empty.
    const uint32_t m = std::min(n, (k + kLanes - 1) / kLanes * kLanes);
    std::vector<float> mx(m, -std::numeric_limits<float>::infinity());
    std::vector<float> mn(m, std::numeric_limits<float>::infinity());
    uint32_t i = 0;
    for (; i + m <= n; i += m) {
      for (uint32_t j = 0; j < m; ++j) {
        mx[j] = pool[i + j] > mx[j] ? pool[i + j] : mx[j];
        mn[j] = pool[i + j] < mn[j] ? pool[i + j] : mn[j];
      }
    }
    for (uint32_t j = 0; i < n; ++i, ++j) {
      mx[j] = std::max(mx[j], pool[i]);
      mn[j] = std::min(mn[j], pool[i]);
    }
    const float hi = *std::min_element(mx.begin(), mx.end());
    const float lo = *std::max_element(mn.begin(), mn.end());
    cand.clear();
    for (uint32_t e = 0; e < n; e += D) {  // row by row, skipping rows without a candidate
      int any = 0;
      for (uint32_t d = 0; d < D; ++d) any |= (pool[e + d] >= hi) | (pool[e + d] <= lo);
      if (!any) continue;
      for (uint32_t d = 0; d < D; ++d) {
        if (pool[e + d] >= hi || pool[e + d] <= lo) cand.push_back({p, e + d, pool[e + d]});
      }
    }
    if (!ChooseFromCandidates(cand.data(), cand.data() + cand.size(), k, chosen)) {
      cand.resize(n);
      for (uint32_t e = 0; e < n; ++e) cand[e] = {p, e, pool[e]};
      ChooseFromCandidates(cand.data(), cand.data() + n, k, chosen);
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
