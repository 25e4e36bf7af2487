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

// Rank of v[i] among v[0, padded) (padded a multiple of 8; NaN lanes never count) in descending
// (kDescending) or ascending order, ties going to the lower position: the number of entries
// before it in that order. Over the entries that are not NaN, the ranks are a permutation.
template <bool kDescending>
uint32_t RankOf(const float* v, uint32_t padded, uint32_t i) {
  const Float8 x = Broadcast8(v[i]);
  uint32_t rank = 0;
  for (uint32_t b = 0; b < padded; b += 8) {
    const Float8 w = Load8(v + b);
    const unsigned before = i >= b + 8 ? 0xffu : (i > b ? (1u << (i - b)) - 1 : 0u);
    const unsigned ahead = kDescending ? LaneMask8(w > x) : LaneMask8(w < x);
    rank += std::popcount(ahead | (LaneMask8(w == x) & before));
  }
  return rank;
}

// The k-th largest of a[0, m) and the k-th smallest of b[0, m) (m a multiple of 8, 1 <= k <= m,
// no NaN): the entries whose rank is k - 1.
Thresholds KthExtremes(const float* a, const float* b, uint32_t m, uint32_t k) {
  Thresholds th{kInf, -kInf};
  for (uint32_t i = 0; i < m; ++i) {
    if (RankOf<true>(a, m, i) == k - 1) th.hi = a[i];
    if (RankOf<false>(b, m, i) == k - 1) th.lo = b[i];
  }
  return th;
}

// Longest candidate list ChooseByRank ranks; pools with longer ones go to ChooseExtremes.
constexpr uint32_t kMaxRankedCandidates = 64;

// Writes to `out`, in list order, the offsets of the k entries of [begin, end) that come first
// in descending (kDescending) or ascending value order, ties to the earlier entry. False when
// the list is shorter than k or longer than kMaxRankedCandidates.
template <bool kDescending>
bool FirstKByRank(const Candidate* begin, const Candidate* end, uint32_t k, uint32_t* out) {
  const uint32_t n = static_cast<uint32_t>(end - begin);
  if (n < k || n > kMaxRankedCandidates) return false;
  alignas(32) float v[kMaxRankedCandidates];
  const uint32_t padded = (n + 7) / 8 * 8;
  for (uint32_t i = 0; i < n; ++i) v[i] = begin[i].value;
  for (uint32_t i = n; i < padded; ++i) v[i] = std::nanf("");
  for (uint32_t i = 0, taken = 0; taken < k; ++i) {
    if (RankOf<kDescending>(v, padded, i) < k) out[taken++] = begin[i].offset;
  }
  return true;
}

// The sort-free path of ChooseExtremes. `high` holds, in ascending offset order, every entry of
// the pool >= a bound hi that is at most its k-th largest entry; `low` every entry <= a bound
// lo < hi that is at least its k-th smallest. An entry's rank inside its list is then its rank in
// the pool, and no entry can be both among the k largest and the k smallest. Appends the same
// offsets as ChooseExtremes would; false (appending nothing) when a list is too long.
bool ChooseByRank(const Candidate* high, const Candidate* high_end, const Candidate* low,
                  const Candidate* low_end, uint32_t k, std::vector<uint32_t>& chosen) {
  uint32_t top[kMaxRankedCandidates], bottom[kMaxRankedCandidates];
  if (!FirstKByRank<true>(high, high_end, k, top) ||
      !FirstKByRank<false>(low, low_end, k, bottom)) {
    return false;
  }
  const size_t first = chosen.size();
  chosen.resize(first + 2 * k);
  std::merge(top, top + k, bottom, bottom + k, chosen.begin() + first);
  return true;
}

// Appends the offsets of the k largest (ties: lower offset) and then the k smallest of the rest
// (ties: lower offset) of a whole pool [begin, end) (n >= 2k entries, in any order), in
// ascending order, by sorting it: the exact path for pools ChooseByRank cannot take.
void ChooseExtremes(Candidate* begin, Candidate* end, uint32_t k, std::vector<uint32_t>& chosen) {
  std::sort(begin, end, [](const Candidate& a, const Candidate& b) {
    return a.value < b.value || (a.value == b.value && a.offset < b.offset);
  });
  const ptrdiff_t n = end - begin;
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
  // Candidates in (token, channel) order, then bucketed by (channel, side) with a stable
  // counting sort: bucket 2d holds channel d's entries >= hi[d], bucket 2d + 1 those <= lo[d].
  struct Found {
    uint32_t bucket;
    Candidate c;
  };
  thread_local std::vector<Found> found;
  found.resize(2 * size_t{T} * D);  // an entry can be on both sides (hi[d] <= lo[d])
  Found* f = found.data();
  for (uint32_t t = 0; t < T; ++t) {
    const float* row = x + size_t{t} * D;
    for (uint32_t d0 = 0; d0 < D; d0 += 8) {
      const Float8 v = Load8(row + d0);
      for (unsigned bits = LaneMask8(v >= Load8(&hi[d0])); bits; bits &= bits - 1) {
        const uint32_t d = d0 + std::countr_zero(bits);
        *f++ = {2 * d, {t, row[d]}};
      }
      for (unsigned bits = LaneMask8(v <= Load8(&lo[d0])); bits; bits &= bits - 1) {
        const uint32_t d = d0 + std::countr_zero(bits);
        *f++ = {2 * d + 1, {t, row[d]}};
      }
    }
  }
  std::vector<uint32_t> start(2 * D + 1, 0);
  for (const Found* i = found.data(); i < f; ++i) ++start[i->bucket + 1];
  for (uint32_t b = 0; b < 2 * D; ++b) start[b + 1] += start[b];
  cand.resize(f - found.data());
  std::vector<uint32_t> fill(start.begin(), start.end() - 1);
  for (const Found* i = found.data(); i < f; ++i) cand[fill[i->bucket]++] = i->c;
  for (uint32_t d = 0; d < D; ++d) {
    if (k[d] == 0) continue;
    const Candidate* c = cand.data();
    if (hi[d] > lo[d] && ChooseByRank(c + start[2 * d], c + start[2 * d + 1], c + start[2 * d + 1],
                                      c + start[2 * d + 2], k[d], chosen)) {
      continue;
    }
    std::vector<Candidate> all(T);
    for (uint32_t t = 0; t < T; ++t) all[t] = {t, x[size_t{t} * D + d]};
    ChooseExtremes(all.data(), all.data() + T, k[d], chosen);
  }
}

// Values: pool = kValuePoolTokens consecutive rows, contiguous in memory.
void SelectValueOutliers(const HeadLayout& l, double ratio, const float* x,
                         std::vector<Candidate>& cand, std::vector<uint32_t>& chosen) {
  const uint32_t D = l.head_dim;
  cand.resize(2 * size_t{kValuePoolTokens} * D);  // high candidates, then low ones
  Candidate* const high = cand.data();
  Candidate* const low = high + size_t{kValuePoolTokens} * D;
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
    if (k <= 8 * vecs) {
      alignas(32) float mx[8 * kMaxSubsetVectors], mn[8 * kMaxSubsetVectors];
      for (uint32_t v = 0; v < vecs; ++v) {
        Store8(&mx[8 * v], vmax[v]);
        Store8(&mn[8 * v], vmin[v]);
      }
      const Thresholds th = KthExtremes(mx, mn, 8 * vecs, k);
      const Float8 hi = Broadcast8(th.hi), lo = Broadcast8(th.lo);
      Candidate *h = high, *w = low;
      for (uint32_t i = 0; i < n; i += 8) {
        const Float8 e = Load8(pool + i);
        for (unsigned bits = LaneMask8(e >= hi); bits; bits &= bits - 1) {
          const uint32_t j = i + std::countr_zero(bits);
          *h++ = {j, pool[j]};
        }
        for (unsigned bits = LaneMask8(e <= lo); bits; bits &= bits - 1) {
          const uint32_t j = i + std::countr_zero(bits);
          *w++ = {j, pool[j]};
        }
      }
      if (th.hi > th.lo && ChooseByRank(high, h, low, w, k, chosen)) continue;
    }
    // No usable bound (more outliers than subsets, or ties across the pool): sort it all.
    for (uint32_t j = 0; j < n; ++j) high[j] = {j, pool[j]};
    ChooseExtremes(high, high + n, k, chosen);
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
