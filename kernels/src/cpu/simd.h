// Eight-float vectors through GCC/Clang vector extensions: one AVX2 register under x86-64-v3,
// two SSE registers otherwise. For the few loops the auto-vectoriser gets wrong.
#ifndef GEARKV_KERNELS_CPU_SIMD_H_
#define GEARKV_KERNELS_CPU_SIMD_H_

#ifdef __AVX__
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace gearkv::internal {

typedef float Float8 __attribute__((vector_size(32)));
typedef float UnalignedFloat8 __attribute__((vector_size(32), aligned(4)));

typedef int32_t Int8x32 __attribute__((vector_size(32)));

inline Float8 Load8(const float* p) { return *reinterpret_cast<const UnalignedFloat8*>(p); }
inline void Store8(float* p, Float8 v) { *reinterpret_cast<UnalignedFloat8*>(p) = v; }
inline Float8 Broadcast8(float f) { return Float8{f, f, f, f, f, f, f, f}; }

// n floats of a thread's scratch vector `buf`, starting on a 64-byte cache line, so that no
// vector load from them straddles two lines (half of all 32-byte loads do from malloc's 16-byte
// alignment). The contents are unspecified: callers write before they read.
inline float* CacheLineAligned(std::vector<float>& buf, size_t n) {
  constexpr size_t kLine = 64;
  buf.resize(n + kLine / sizeof(float));
  const size_t misalignment = reinterpret_cast<uintptr_t>(buf.data()) % kLine;
  return reinterpret_cast<float*>(reinterpret_cast<char*>(buf.data()) +
                                  (kLine - misalignment) % kLine);
}

// Eight codes of kBits < 8 packed LSB-first at p (kBits bytes), each in the low bits of its
// lane with the codes that follow it above.
template <int kBits>
inline Int8x32 CodeWords8(const uint8_t* p) {
  uint32_t w = 0;
  std::memcpy(&w, p, kBits);  // 8 codes = kBits bytes
  const int32_t x = static_cast<int32_t>(w);
  const Int8x32 words = {x, x, x, x, x, x, x, x};
  const Int8x32 shifts = {0,         kBits,     2 * kBits, 3 * kBits,
                          4 * kBits, 5 * kBits, 6 * kBits, 7 * kBits};
  return words >> shifts;
}

// Eight kBits-bit codes packed LSB-first at p (kBits bytes), as floats.
template <int kBits>
inline Float8 UnpackCodes8(const uint8_t* p) {
  if constexpr (kBits == 8) {
    const Int8x32 c = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]};
    return __builtin_convertvector(c, Float8);
  } else {
    return __builtin_convertvector(CodeWords8<kBits>(p) & ((1 << kBits) - 1), Float8);
  }
}

// Round to nearest integer, ties to even, per lane (NaN stays NaN): the vector form of rintf.
inline Float8 RoundToNearest8(Float8 v) {
#ifdef __AVX__
  return (Float8)_mm256_round_ps((__m256)v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
  for (int i = 0; i < 8; ++i) v[i] = __builtin_rintf(v[i]);
  return v;
#endif
}

// Packs eight codes (lanes in [0, 2^kBits)) LSB-first into kBits bytes at p: the inverse of
// UnpackCodes8.
template <int kBits>
inline void PackCodes8(Int8x32 codes, uint8_t* p) {
  if constexpr (kBits == 8) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(codes[i]);
  } else {
    const Int8x32 shifts = {0,         kBits,     2 * kBits, 3 * kBits,
                            4 * kBits, 5 * kBits, 6 * kBits, 7 * kBits};
    const Int8x32 s = codes << shifts;
    typedef int32_t Int4x32 __attribute__((vector_size(16)));
    Int4x32 w =
        __builtin_shufflevector(s, s, 0, 1, 2, 3) | __builtin_shufflevector(s, s, 4, 5, 6, 7);
    w |= __builtin_shufflevector(w, w, 2, 3, 0, 1);
    w |= __builtin_shufflevector(w, w, 1, 0, 3, 2);
    const uint32_t word = static_cast<uint32_t>(w[0]);
    std::memcpy(p, &word, kBits);  // little-endian: the low kBits bytes
  }
}

// Packs 32 codes (c[0] holds codes 0-7, ... c[3] codes 24-31) into 4 * kBits bytes at p, as four
// PackCodes8 would; with AVX2, byte packs and multiply-adds instead of one lane reduction per
// eight codes.
template <int kBits>
inline void PackCodes32(const Int8x32* c, uint8_t* p) {
#ifdef __AVX2__
  if constexpr (kBits == 2 || kBits == 4 || kBits == 8) {
    const __m256i p01 = _mm256_packus_epi32((__m256i)c[0], (__m256i)c[1]);
    const __m256i p23 = _mm256_packus_epi32((__m256i)c[2], (__m256i)c[3]);
    // Bytes in the order [0-3 8-11 16-19 24-27 | 4-7 12-15 20-23 28-31]; put them in order.
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(p01, p23),
                                                      _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    if constexpr (kBits == 8) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), bytes);
    } else if constexpr (kBits == 4) {
      // 16-bit lanes: code 2i + 16 * code 2i+1, then back to bytes.
      const __m256i pairs = _mm256_maddubs_epi16(bytes, _mm256_set1_epi16(0x1001));
      const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi16(pairs, pairs), 0x08);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
    } else {
      // 16-bit lanes: code 2i + 4 * code 2i+1; 32-bit lanes: + 16 * the next pair.
      const __m256i pairs = _mm256_maddubs_epi16(bytes, _mm256_set1_epi16(0x0401));
      const __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00100001));
      const __m256i w = _mm256_packus_epi16(_mm256_packus_epi32(quads, quads), quads);
      // Bytes 0-3 of each 128-bit half hold codes 0-15 and 16-31.
      const uint64_t word = static_cast<uint32_t>(_mm256_extract_epi32(w, 0)) |
                            uint64_t{static_cast<uint32_t>(_mm256_extract_epi32(w, 4))} << 32;
      std::memcpy(p, &word, 8);
    }
    return;
  }
#endif
  for (int i = 0; i < 4; ++i) PackCodes8<kBits>(c[i], p + i * kBits);
}

// Lane minimum / maximum of a vector without NaN lanes.
inline float MinLanes8(Float8 v) {
  v = v < __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3)
          ? v
          : __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3);
  v = v < __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5)
          ? v
          : __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5);
  return v[0] < v[1] ? v[0] : v[1];
}
inline float MaxLanes8(Float8 v) { return -MinLanes8(-v); }

// Bit i set when lane i of a comparison result (lanes of 0 or -1) is set.
inline unsigned LaneMask8(Int8x32 lanes) {
#ifdef __AVX__
  return static_cast<unsigned>(_mm256_movemask_ps((__m256)lanes));
#else
  unsigned bits = 0;
  for (int i = 0; i < 8; ++i) bits |= (lanes[i] != 0 ? 1u : 0u) << i;
  return bits;
#endif
}

// Bit i set when lane i of v is >= hi[i] or <= lo[i].
inline unsigned OutsideMask8(Float8 v, Float8 hi, Float8 lo) {
  return LaneMask8((v >= hi) | (v <= lo));
}

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_CPU_SIMD_H_
