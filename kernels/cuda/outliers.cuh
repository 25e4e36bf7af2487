// Sparse outlier selection on the GPU (the S of GEAR): one warp per pool.
//
// Definition (the CPU backend's, cpu/outliers.h): in a pool of n entries, with k per side,
//   L = the k largest entries, larger value first and lower pool offset among equals;
//   S = the k smallest entries of the rest, smaller value first, lower offset among equals;
// the 2k offsets of L and S are stored in ascending order (with the exact input values), and the
// entries are set to NaN in the head so that quantization skips them.
//
// A selection is described by thresholds: vL (the k-th largest value) and needL (how many of the
// entries equal to vL belong to L: the needL with the lowest offsets), and likewise vS / needS
// over the entries outside L. Then one pass over the pool in offset order, with warp ballots
// counting the tied entries seen so far, decides every entry and writes the output in order.
// The thresholds come from per-lane top-K lists merged across the warp when k <= 16 (the common
// case), else from a bit-by-bit bisection of the value keys that works for any k.
#ifndef GEARKV_KERNELS_CUDA_OUTLIERS_CUH_
#define GEARKV_KERNELS_CUDA_OUTLIERS_CUH_

#include <cstdint>

#include "device_util.cuh"
#include "gear_math.h"

namespace gearkv::internal::cuda {

// One pool of a head held in fp32 at x (row stride ld). Visits the pool's entries in chunks of
// 32 consecutive pool offsets, lane i getting offset chunk_start + i; every lane calls
// fn(valid, offset, at, element) for every chunk (so warp collectives may be used inside), with
// valid false past the end of a row or of the pool. `at` points into x, `element` is the entry's
// index in the input head (token * in_ld + channel: in_ld is the input's row stride).
template <Kind kKind>
struct PoolChunks {
  float* x;
  uint32_t ld, tokens, head_dim, pool;
  uint64_t in_ld;

  template <typename Fn>
  __device__ __forceinline__ void ForEach(Fn&& fn) const {
    const uint32_t lane = LaneId();
    if constexpr (kKind == Kind::kKeys) {  // channel `pool` over every token
      for (uint32_t t0 = 0; t0 < tokens; t0 += 32) {
        const uint32_t t = t0 + lane;
        const bool valid = t < tokens;
        fn(valid, t, x + (valid ? uint64_t{t} * ld + pool : 0), uint64_t{t} * in_ld + pool);
      }
    } else {  // kValuePoolTokens tokens from pool * kValuePoolTokens, every channel
      const uint32_t first = pool * kValuePoolTokens;
      const uint32_t rows = tokens - first < kValuePoolTokens ? tokens - first : kValuePoolTokens;
      for (uint32_t row = 0; row < rows; ++row) {
        for (uint32_t c0 = 0; c0 < head_dim; c0 += 32) {
          const uint32_t c = c0 + lane;
          const bool valid = c < head_dim;
          const uint32_t offset = row * head_dim + c;
          fn(valid, offset, x + (valid ? uint64_t{first + row} * ld + c : 0),
             uint64_t{first + row} * in_ld + c);
        }
      }
    }
  }
};

struct OutlierThresholds {
  uint32_t v_large = 0, need_large = 0;  // keys (OrderedKey) of vL, and needL
  uint32_t v_small = 0, need_small = 0;
};

// Inserts key u into the descending list a[0..K) (0 = empty slot), dropping the smallest.
template <int K>
__device__ __forceinline__ void InsertDescending(uint32_t (&a)[K], uint32_t u) {
  if (u <= a[K - 1]) return;
#pragma unroll
  for (int i = 0; i < K; ++i) {
    if (u > a[i]) {
      const uint32_t t = a[i];
      a[i] = u;
      u = t;
    }
  }
}

// Pops the k largest keys of the union of every lane's list (k <= K, warp-uniform) and returns
// the k-th one; *better = how many of the k popped keys are strictly greater than it.
template <int K>
__device__ __forceinline__ uint32_t PopKth(uint32_t (&a)[K], uint32_t k, uint32_t* better) {
  uint32_t last = 0, run = 0;
  for (uint32_t i = 0; i < k; ++i) {
    const uint32_t head = a[0];
    const uint32_t m = WarpMax(head);
    const int winner = __ffs(__ballot_sync(kFullMask, head == m)) - 1;
    if (static_cast<int>(LaneId()) == winner) {
#pragma unroll
      for (int j = 0; j + 1 < K; ++j) a[j] = a[j + 1];
      a[K - 1] = 0;
    }
    run = (i > 0 && m == last) ? run + 1 : 1;
    last = m;
  }
  *better = k - run;
  return last;
}

// Thresholds from per-lane lists of the K largest and K smallest keys (k <= K). Returns false
// when the k smallest and the k largest may share entries (vS >= vL, a pool of few distinct
// values); the caller then uses BisectThresholds, which excludes L from S exactly.
template <int K, Kind kKind>
__device__ bool ListThresholds(const PoolChunks<kKind>& pool, uint32_t k, OutlierThresholds* th) {
  uint32_t hi[K], lo[K];  // keys, and complemented keys (so "larger" is "smaller value")
#pragma unroll
  for (int i = 0; i < K; ++i) hi[i] = lo[i] = 0;
  pool.ForEach([&](bool valid, uint32_t, const float* at, uint64_t) {
    if (!valid) return;
    const uint32_t key = OrderedKey(*at);
    InsertDescending<K>(hi, key);
    InsertDescending<K>(lo, ~key);
  });
  uint32_t greater = 0, smaller = 0;
  const uint32_t v_large = PopKth<K>(hi, k, &greater);
  const uint32_t v_small = ~PopKth<K>(lo, k, &smaller);
  if (!(v_small < v_large)) return false;
  // vS < vL: every entry <= vS lies outside L, so S over the whole pool is S over the rest.
  *th = {v_large, k - greater, v_small, k - smaller};
  return true;
}

// Warp-uniform count of the pool's entries whose key satisfies pred.
template <Kind kKind, typename Pred>
__device__ __forceinline__ uint32_t CountKeys(const PoolChunks<kKind>& pool, Pred&& pred) {
  uint32_t count = 0;
  pool.ForEach([&](bool valid, uint32_t, const float* at, uint64_t) {
    const bool hit = valid && pred(OrderedKey(*at));
    count += __popc(__ballot_sync(kFullMask, hit));
  });
  return count;
}

// Thresholds for any k by bisection: vL is the largest key c with #(key >= c) >= k, found bit by
// bit from the top; then vS likewise on complemented keys over the entries outside L (those
// below vL, and the entries equal to vL that L leaves out).
template <Kind kKind>
__device__ void BisectThresholds(const PoolChunks<kKind>& pool, uint32_t k, OutlierThresholds* th) {
  uint32_t prefix = 0;
  for (int b = 31; b >= 0; --b) {
    const uint32_t c = prefix | (1u << b);
    if (CountKeys(pool, [c](uint32_t key) { return key >= c; }) >= k) prefix = c;
  }
  const uint32_t v_large = prefix;
  const uint32_t greater = CountKeys(pool, [v_large](uint32_t key) { return key > v_large; });
  const uint32_t need_large = k - greater;
  const uint32_t equal = CountKeys(pool, [v_large](uint32_t key) { return key == v_large; });
  const uint32_t equal_outside = equal - need_large;  // entries == vL not in L

  prefix = 0;
  for (int b = 31; b >= 0; --b) {
    const uint32_t c = prefix | (1u << b);
    uint32_t n = CountKeys(pool, [v_large, c](uint32_t key) { return key < v_large && ~key >= c; });
    if (~v_large >= c) n += equal_outside;
    if (n >= k) prefix = c;
  }
  const uint32_t v_small = ~prefix;  // <= v_large
  uint32_t smaller =
      CountKeys(pool, [v_large, v_small](uint32_t key) { return key < v_large && key < v_small; });
  if (v_large < v_small) smaller += equal_outside;
  *th = {v_large, need_large, v_small, k - smaller};
}

// Selects the outliers of one pool (k per side, warp-uniform) and writes their 2k offsets and
// exact values from index `out_base` on, in ascending offset order; marks them NaN in x.
// `in_head` is the head in the input tensor (element type `type`). Raises status->internal if
// the pass does not find exactly 2k entries (it writes at most 2k in any case).
template <Kind kKind>
__device__ void SelectPoolOutliers(const PoolChunks<kKind>& pool, uint32_t k, uint32_t out_base,
                                   const void* in_head, ElemType type, uint16_t* out_offsets,
                                   char* out_values, KernelStatus* status) {
  if (k == 0) return;
  OutlierThresholds th;
  bool have = false;
  if (k <= 4) {
    have = ListThresholds<4>(pool, k, &th);
  } else if (k <= 16) {
    have = ListThresholds<16>(pool, k, &th);
  }
  if (!have) BisectThresholds(pool, k, &th);

  const unsigned below = LanesBelow();
  const uint32_t vb = ElemBytes(type);
  uint32_t seen_eq_large = 0, seen_eq_small = 0, written = 0;
  pool.ForEach([&](bool valid, uint32_t offset, float* at, uint64_t element) {
    const uint32_t key = valid ? OrderedKey(*at) : 0;
    const bool eq_large = valid && key == th.v_large;
    const unsigned eq_large_mask = __ballot_sync(kFullMask, eq_large);
    const bool in_large =
        valid && (key > th.v_large ||
                  (eq_large && seen_eq_large + __popc(eq_large_mask & below) < th.need_large));
    seen_eq_large += __popc(eq_large_mask);
    const bool outside = valid && !in_large;
    const bool eq_small = outside && key == th.v_small;
    const unsigned eq_small_mask = __ballot_sync(kFullMask, eq_small);
    const bool in_small =
        outside && (key < th.v_small ||
                    (eq_small && seen_eq_small + __popc(eq_small_mask & below) < th.need_small));
    seen_eq_small += __popc(eq_small_mask);
    const bool selected = in_large || in_small;
    const unsigned selected_mask = __ballot_sync(kFullMask, selected);
    const uint32_t pos = written + __popc(selected_mask & below);
    if (selected && pos < 2 * k) {
      out_offsets[out_base + pos] = static_cast<uint16_t>(offset);
      char* dst = out_values + uint64_t{out_base + pos} * vb;
      if (vb == 2) {
        *reinterpret_cast<uint16_t*>(dst) = static_cast<const uint16_t*>(in_head)[element];
      } else {
        *reinterpret_cast<uint32_t*>(dst) = static_cast<const uint32_t*>(in_head)[element];
      }
      *at = QuietNaN();
    }
    written += __popc(selected_mask);
  });
  if (written != 2 * k && LaneId() == 0) atomicOr(&status->internal, 1u);
}

}  // namespace gearkv::internal::cuda

#endif  // GEARKV_KERNELS_CUDA_OUTLIERS_CUH_
