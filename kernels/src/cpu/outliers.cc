#include "cpu/outliers.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "cpu/simd.h"

namespace gearkv::internal {
namespace {

// How a pool's outliers are found without sorting it:
//  1. Bounds. The pool is split into m >= k subsets; the k-th largest of the subset maxima is at
//     most the pool's k-th largest entry (the k subsets reaching it hold k distinct entries),
//     and likewise for minima. Every entry >= hi is a "high" candidate, every entry <= lo a
//     "low" one, so the k largest are among the high candidates and the k smallest among the
//     low ones.
//  2. Ranks. With hi > lo the two lists are disjoint, and an entry's rank inside its list
//     (counted with 8-wide compares, ties to the lower offset) is its rank in the pool: the
//     entries ranked below k are the outliers, already in ascending offset order. (A key channel
//     keeps both sides in one list and ranks it both ways: ChooseFromMixed.)
// Pools where that cannot work (more outliers than subsets, bounds that cross because of ties,
// a list longer than a SideList holds) are sorted whole instead (ChooseBySorting).

constexpr float kInf = std::numeric_limits<float>::infinity();
// Value pools use at most this many Float8 accumulators (64 subsets) for their bounds.
constexpr uint32_t kMaxSubsetVectors = 8;
// Candidates one side of a pool may have for the rank path.
constexpr uint32_t kSideCapacity = 64;

struct Bounds {
  float hi, lo;
};

// For each 8-bit lane mask, the numbers of its set lanes in order (then zeros): the
// permutation that moves the selected lanes of a Float8 to its front.
constexpr auto kCompressLanes = [] {
  std::array<std::array<uint8_t, 8>, 256> lut{};
  for (unsigned mask = 0; mask < 256; ++mask) {
    for (uint8_t lane = 0, n = 0; lane < 8; ++lane) {
      if (mask >> lane & 1) lut[mask][n++] = lane;
    }
  }
  return lut;
}();

// One side's candidates of a pool, in ascending offset order. Entries past the capacity are
// counted but not kept: the list is then unusable.
struct SideList {
  alignas(32) float value[kSideCapacity + 8];  // 8 lanes of slack for Append's stores
  uint32_t offset[kSideCapacity + 8];
  uint32_t count = 0;

  void Push(uint32_t off, float v) {
    if (count < kSideCapacity) value[count] = v, offset[count] = off;
    ++count;
  }
  // Appends the lanes of v set in `mask`, lane i at offset first + i, without branching.
  void Append(Float8 v, uint32_t first, unsigned mask) {
#ifdef __AVX2__
    const uint32_t at = std::min(count, kSideCapacity);
    const __m256i lanes = _mm256_cvtepu8_epi32(
        _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kCompressLanes[mask].data())));
    _mm256_storeu_ps(value + at, _mm256_permutevar8x32_ps((__m256)v, lanes));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(offset + at),
                        _mm256_add_epi32(lanes, _mm256_set1_epi32(static_cast<int>(first))));
    count += std::popcount(mask);
#else
    for (; mask; mask &= mask - 1) Push(first + std::countr_zero(mask), v[std::countr_zero(mask)]);
#endif
  }
};

// Ranks of v[0, n) (n <= kSideCapacity, no NaN) in descending (kDescending) or ascending order,
// ties going to the lower position: rank[i] = the number of entries before v[i] in that order.
// The ranks are a permutation of 0 .. n - 1. Vectorised over i: every v[j] is compared with
// eight entries at a time.
template <bool kDescending>
void RanksOf(const float* v, uint32_t n, int32_t* rank) {
  const Int8x32 iota = {0, 1, 2, 3, 4, 5, 6, 7};
  for (uint32_t b = 0; b < n; b += 8) {
    alignas(32) float w_lanes[8];
    for (uint32_t i = 0; i < 8; ++i)
      w_lanes[i] = b + i < n ? v[b + i] : 0.0f;  // lanes >= n: unused
    const Float8 w = Load8(w_lanes);
    const Int8x32 lane_index = iota + static_cast<int32_t>(b);
    Int8x32 count = {};  // minus the count: comparisons give -1
    for (uint32_t j = 0; j < n; ++j) {
      const Float8 x = Broadcast8(v[j]);
      const Int8x32 ahead = kDescending ? x > w : x < w;
      const Int8x32 tie = (x == w) & (Int8x32{} + static_cast<int32_t>(j) < lane_index);
      count += ahead | tie;
    }
    alignas(32) int32_t r[8];
    *reinterpret_cast<Int8x32*>(r) = -count;
    for (uint32_t i = 0; i < 8 && b + i < n; ++i) rank[b + i] = r[i];
  }
}

// The k-th largest of a[0, m) and the k-th smallest of b[0, m) (1 <= k <= m <= kSideCapacity,
// no NaN): the entries whose rank is k - 1.
Bounds KthExtremes(const float* a, const float* b, uint32_t m, uint32_t k) {
  int32_t rank_a[kSideCapacity], rank_b[kSideCapacity];
  RanksOf<true>(a, m, rank_a);
  RanksOf<false>(b, m, rank_b);
  Bounds bounds{kInf, -kInf};
  for (uint32_t i = 0; i < m; ++i) {
    bounds.hi = rank_a[i] == static_cast<int32_t>(k - 1) ? a[i] : bounds.hi;
    bounds.lo = rank_b[i] == static_cast<int32_t>(k - 1) ? b[i] : bounds.lo;
  }
  return bounds;
}

// Writes to `out`, in list order, the offsets of the k entries of `list` that come first in
// descending (kDescending) or ascending value order, ties to the earlier entry. False when the
// list holds fewer than k entries or overflowed.
template <bool kDescending>
bool FirstKByRank(const SideList& list, uint32_t k, uint32_t* out) {
  if (list.count < k || list.count > kSideCapacity) return false;
  int32_t rank[kSideCapacity];
  RanksOf<kDescending>(list.value, list.count, rank);
  for (uint32_t i = 0, taken = 0; i < list.count; ++i) {  // branch-free: out holds count entries
    out[taken] = list.offset[i];
    taken += rank[i] < static_cast<int32_t>(k);
  }
  return true;
}

// The rank path (step 2 above) for a pool whose bounds are hi > lo: writes its 2k outlier
// offsets in ascending order. False, writing nothing, when a list cannot be used.
bool ChooseByRank(const SideList& high, const SideList& low, uint32_t k, uint16_t* out) {
  uint32_t top[kSideCapacity], bottom[kSideCapacity];
  if (!FirstKByRank<true>(high, k, top) || !FirstKByRank<false>(low, k, bottom)) return false;
  std::merge(top, top + k, bottom, bottom + k, out);
  return true;
}

// The rank path for a pool whose candidates of both sides are in one list (ascending offset),
// with bounds hi > lo: an entry above hi has at least k entries below it, one below lo at least
// k above it, so ranking the whole list both ways picks the same 2k entries as ranking each
// side. Writes them, in ascending order; false, writing nothing, when the list cannot be used.
bool ChooseFromMixed(const SideList& list, uint32_t k, uint16_t* out) {
  const uint32_t n = list.count;
  if (n < 2 * k || n > kSideCapacity) return false;
  uint16_t chosen[kSideCapacity];
  uint32_t taken = 0;
  if (n <= 8) {  // one Float8, a fixed number of steps: no branch depends on the data
    const Int8x32 iota = {0, 1, 2, 3, 4, 5, 6, 7};
    const Int8x32 valid = iota < static_cast<int32_t>(n);
    const Float8 w = valid ? Load8(list.value) : Broadcast8(std::nanf(""));
    Int8x32 desc = {}, asc = {};  // minus the ranks: comparisons give -1
    for (int j = 0; j < 8; ++j) {
      const Float8 x = Broadcast8(w[j]);
      const Int8x32 tie = (x == w) & (iota > j);
      desc += (x > w) | tie;
      asc += (x < w) | tie;
    }
    const int32_t kk = static_cast<int32_t>(k);
    const unsigned mask = LaneMask8(valid & ((-desc < kk) | (-asc < kk)));
    for (uint32_t i = 0; i < 8; ++i) {
      chosen[taken] = static_cast<uint16_t>(list.offset[i]);
      taken += (mask >> i) & 1;
    }
  } else {
    int32_t desc[kSideCapacity], asc[kSideCapacity];
    RanksOf<true>(list.value, n, desc);
    RanksOf<false>(list.value, n, asc);
    for (uint32_t i = 0; i < n; ++i) {
      chosen[taken] = static_cast<uint16_t>(list.offset[i]);
      taken += desc[i] < static_cast<int32_t>(k) || asc[i] < static_cast<int32_t>(k);
    }
  }
  if (taken != 2 * k) return false;  // the sides overlapped
  std::copy_n(chosen, taken, out);
  return true;
}

struct Entry {
  uint32_t offset;  // inside the pool
  float value;
};

// Writes the offsets of the k largest (ties: lower offset) and then the k smallest of the rest
// (ties: lower offset) of a whole pool [begin, end) (n >= 2k entries, in any order) to `out`,
// in ascending order, by sorting it: the exact path for pools the rank path cannot take.
void ChooseBySorting(Entry* begin, Entry* end, uint32_t k, uint16_t* out) {
  std::sort(begin, end, [](const Entry& a, const Entry& b) {
    return a.value < b.value || (a.value == b.value && a.offset < b.offset);
  });
  const ptrdiff_t n = end - begin;
  // Largest: everything above the k-th largest value, then the lowest offsets among the entries
  // equal to it (they sit in ascending offset order at the start of their run).
  const float kth = begin[n - k].value;
  const Entry* run =
      std::lower_bound(begin, end, kth, [](const Entry& c, float v) { return c.value < v; });
  const ptrdiff_t above =
      end - std::upper_bound(begin, end, kth, [](float v, const Entry& c) { return v < c.value; });
  const ptrdiff_t from_run = k - above;  // taken from the run of entries equal to kth
  uint16_t* o = out;
  for (ptrdiff_t i = 0; i < from_run; ++i) *o++ = static_cast<uint16_t>(run[i].offset);
  for (const Entry* c = end - above; c < end; ++c) *o++ = static_cast<uint16_t>(c->offset);
  // Smallest: the first k entries not taken above (taken ones are inside [run, run + from_run)
  // or at the end).
  uint32_t taken = 0;
  for (const Entry* c = begin; taken < k; ++c) {
    if (c >= run && c < run + from_run) continue;
    *o++ = static_cast<uint16_t>(c->offset);
    ++taken;
  }
  std::sort(out, out + 2 * k);
}

// Keys: pool = one channel over all tokens, handled eight channels (one Float8 strip) at a
// time, walking down the tokens; the subsets are m contiguous runs of tokens.
void SelectKeyOutliers(const HeadLayout& l, const float* x, uint16_t* out) {
  const uint32_t T = l.tokens, D = l.head_dim;
  const uint32_t* k = OutliersPerSideOfPools(l);
  const uint32_t k_max = *std::max_element(k, k + D);
  if (k_max == 0) return;
  const uint32_t m = std::min(T, std::max<uint32_t>(8, 3 * k_max));
  // Per strip: the k_max largest subset maxima (smallest minima) per channel, kept sorted.
  thread_local std::vector<Float8> top, bottom;
  top.resize(k_max);
  bottom.resize(k_max);
  thread_local std::vector<Entry> all;
  thread_local std::vector<uint32_t> flagged_rows;
  flagged_rows.resize(T);
  uint32_t* rows = flagged_rows.data();
  SideList candidates[8];  // per channel, both sides
  for (uint32_t d0 = 0; d0 < D; d0 += 8) {
    std::fill(top.begin(), top.end(), Broadcast8(-kInf));
    std::fill(bottom.begin(), bottom.end(), Broadcast8(kInf));
    for (uint32_t j = 0; j < m; ++j) {
      Float8 up = Broadcast8(-kInf), down = Broadcast8(kInf);
      for (uint32_t t = uint64_t{j} * T / m; t < uint64_t{j + 1} * T / m; ++t) {
        const Float8 v = Load8(x + size_t{t} * D + d0);
        up = v > up ? v : up;
        down = v < down ? v : down;
      }
      for (uint32_t i = 0; i < k_max; ++i) {  // insertion network
        const Float8 t = top[i], b = bottom[i];
        top[i] = up > t ? up : t;
        up = up > t ? t : up;
        bottom[i] = down < b ? down : b;
        down = down < b ? b : down;
      }
    }
    Float8 hi = Broadcast8(kInf), lo = Broadcast8(-kInf);  // k == 0: no candidate
    for (uint32_t lane = 0; lane < 8; ++lane) {
      if (const uint32_t kd = k[d0 + lane]; kd > 0) hi[lane] = top[kd - 1][lane];
      if (const uint32_t kd = k[d0 + lane]; kd > 0) lo[lane] = bottom[kd - 1][lane];
      candidates[lane].count = 0;
    }
    // Rows with a candidate, listed without branching (they are too frequent to predict).
    uint32_t flagged = 0;
    for (uint32_t t = 0; t < T; ++t) {
      rows[flagged] = t;
      flagged += OutsideMask8(Load8(x + size_t{t} * D + d0), hi, lo) != 0;
    }
    for (uint32_t f = 0; f < flagged; ++f) {
      const uint32_t t = rows[f];
      const float* row = x + size_t{t} * D + d0;
      for (unsigned bits = OutsideMask8(Load8(row), hi, lo); bits; bits &= bits - 1) {
        const uint32_t lane = std::countr_zero(bits);
        candidates[lane].Push(t, row[lane]);
      }
    }
    for (uint32_t lane = 0; lane < 8; ++lane) {
      const uint32_t d = d0 + lane, kd = k[d];
      if (kd == 0) continue;
      if (!(hi[lane] > lo[lane] && ChooseFromMixed(candidates[lane], kd, out))) {
        all.resize(T);
        for (uint32_t t = 0; t < T; ++t) all[t] = {t, x[size_t{t} * D + d]};
        ChooseBySorting(all.data(), all.data() + T, kd, out);
      }
      out += 2 * kd;
    }
  }
}

// The maxima and minima of the 8 * kVecs subsets of pool[0, n) (n a multiple of 8) whose
// subset i holds the entries e with e % (8 * kVecs) == i, to mx and mn.
template <int kVecs>
void SubsetExtremesOf(const float* pool, uint32_t n, float* mx, float* mn) {
  Float8 vmax[kVecs], vmin[kVecs];
  for (int v = 0; v < kVecs; ++v) vmax[v] = Broadcast8(-kInf), vmin[v] = Broadcast8(kInf);
  uint32_t i = 0;
  for (; i + 8 * kVecs <= n; i += 8 * kVecs) {
    for (int v = 0; v < kVecs; ++v) {
      const Float8 e = Load8(pool + i + 8 * v);
      vmax[v] = e > vmax[v] ? e : vmax[v];
      vmin[v] = e < vmin[v] ? e : vmin[v];
    }
  }
  for (int v = 0; i < n; i += 8, ++v) {
    const Float8 e = Load8(pool + i);
    vmax[v] = e > vmax[v] ? e : vmax[v];
    vmin[v] = e < vmin[v] ? e : vmin[v];
  }
  for (int v = 0; v < kVecs; ++v) {
    Store8(mx + 8 * v, vmax[v]);
    Store8(mn + 8 * v, vmin[v]);
  }
}

void SubsetExtremes(const float* pool, uint32_t n, uint32_t vecs, float* mx, float* mn) {
  static_assert(kMaxSubsetVectors == 8);
  switch (vecs) {
    case 1:
      return SubsetExtremesOf<1>(pool, n, mx, mn);
    case 2:
      return SubsetExtremesOf<2>(pool, n, mx, mn);
    case 3:
      return SubsetExtremesOf<3>(pool, n, mx, mn);
    case 4:
      return SubsetExtremesOf<4>(pool, n, mx, mn);
    case 5:
      return SubsetExtremesOf<5>(pool, n, mx, mn);
    case 6:
      return SubsetExtremesOf<6>(pool, n, mx, mn);
    case 7:
      return SubsetExtremesOf<7>(pool, n, mx, mn);
    default:
      return SubsetExtremesOf<8>(pool, n, mx, mn);
  }
}

// Values: pool = kValuePoolTokens consecutive rows, contiguous in memory; the subsets are the
// lanes of interleaved Float8 accumulators.
void SelectValueOutliers(const HeadLayout& l, const float* x, uint16_t* out) {
  const uint32_t D = l.head_dim;
  thread_local std::vector<Entry> all;
  thread_local std::vector<uint32_t> flagged_vectors;
  flagged_vectors.resize(kValuePoolTokens * D / 8);
  uint32_t* vectors = flagged_vectors.data();
  SideList high, low;
  const uint32_t* per_side = OutliersPerSideOfPools(l);
  for (uint32_t p = 0; p < l.pools; ++p) {
    const uint32_t n = PoolSize(Kind::kValues, l.tokens, D, p);
    const uint32_t k = per_side[p];
    if (k == 0) continue;
    const float* pool = x + size_t{p} * kValuePoolTokens * D;
    // m = 8 * vecs subsets, m >= 1.5 k (fewer subsets: cheaper bounds, more candidates); n is
    // a multiple of 8 (head_dim is), and m <= n keeps every subset non-empty.
    const uint32_t vecs = std::min<uint32_t>({kMaxSubsetVectors, (3 * k + 15) / 16, n / 8});
    bool ranked = false;
    if (k <= 8 * vecs) {
      alignas(32) float mx[8 * kMaxSubsetVectors], mn[8 * kMaxSubsetVectors];
      SubsetExtremes(pool, n, vecs, mx, mn);
      const Bounds bounds = KthExtremes(mx, mn, 8 * vecs, k);
      const Float8 hi = Broadcast8(bounds.hi), lo = Broadcast8(bounds.lo);
      high.count = low.count = 0;
      // Vectors with a candidate, listed without branching (too frequent to predict).
      uint32_t flagged = 0;
      for (uint32_t i = 0; i < n; i += 8) {
        vectors[flagged] = i;
        flagged += OutsideMask8(Load8(pool + i), hi, lo) != 0;
      }
      for (uint32_t f = 0; f < flagged; ++f) {
        const uint32_t i = vectors[f];
        const Float8 e = Load8(pool + i);
        high.Append(e, i, LaneMask8(e >= hi));
        low.Append(e, i, LaneMask8(e <= lo));
      }
      ranked = bounds.hi > bounds.lo && ChooseByRank(high, low, k, out);
    }
    if (!ranked) {
      all.resize(n);
      for (uint32_t j = 0; j < n; ++j) all[j] = {j, pool[j]};
      ChooseBySorting(all.data(), all.data() + n, k, out);
    }
    out += 2 * k;
  }
}

}  // namespace

const uint32_t* OutliersPerSideOfPools(const HeadLayout& l) {
  struct Cache {
    uint32_t tokens = 0, head_dim = 0;
    double ratio = -1;
    std::vector<uint32_t> per_side;
  };
  thread_local Cache caches[2];  // keys and values alternate every kv_heads heads
  Cache& cache = caches[static_cast<int>(l.kind)];
  if (cache.tokens != l.tokens || cache.head_dim != l.head_dim || cache.ratio != l.outlier_ratio) {
    cache = {l.tokens, l.head_dim, l.outlier_ratio, {}};
    cache.per_side.resize(l.pools);
    for (uint32_t p = 0; p < l.pools; ++p) {
      cache.per_side[p] =
          OutliersPerSide(l.outlier_ratio, PoolSize(l.kind, l.tokens, l.head_dim, p), p);
    }
  }
  return cache.per_side.data();
}

void SelectOutliers(const HeadLayout& l, float* x, uint16_t* offsets, uint32_t* indices) {
  if (l.outliers == 0) return;
  if (l.kind == Kind::kKeys) {
    SelectKeyOutliers(l, x, offsets);
  } else {
    SelectValueOutliers(l, x, offsets);
  }
  // Offsets are pool-relative, pools in order; map them to element indices.
  const uint32_t* per_side = OutliersPerSideOfPools(l);
  uint64_t at = 0;
  for (uint32_t p = 0; p < l.pools; ++p) {
    const uint32_t n = 2 * per_side[p];
    for (uint32_t i = 0; i < n; ++i, ++at) {
      const uint32_t off = offsets[at];
      indices[at] =
          l.kind == Kind::kKeys ? off * l.head_dim + p : p * kValuePoolTokens * l.head_dim + off;
    }
  }
  for (uint64_t i = 0; i < l.outliers; ++i) x[indices[i]] = std::nanf("");
}

}  // namespace gearkv::internal
