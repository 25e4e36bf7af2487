#include "cpu/decode_head.h"

#include <cstring>
#include <vector>

#include "cpu/cpu_features.h"
#include "cpu/dtype_convert.h"
#include "cpu/simd.h"
#include "half.h"

namespace gearkv::internal {
namespace {

// Eight-lane vectors (x86-64-v3) for decode_head.inc.
namespace lanes8 {

using Vec = Float8;
constexpr uint32_t kLanes = 8;
inline Vec LoadV(const float* p) { return Load8(p); }
inline Vec BroadcastV(float f) { return Broadcast8(f); }
template <int kBits>
inline Vec UnpackCodesV(const uint8_t* p) {
  return UnpackCodes8<kBits>(p);
}

// Rounds eight floats to `dtype` and stores them at p.
template <DType kOut>
inline void StoreAsV(Vec v, void* p) {
  if constexpr (kOut == DType::kFloat32) {
    Store8(static_cast<float*>(p), v);
  } else if constexpr (kOut == DType::kFloat16) {
#ifdef __F16C__
    _mm_storeu_si128(static_cast<__m128i*>(p),
                     _mm256_cvtps_ph((__m256)v, _MM_FROUND_TO_NEAREST_INT));
#else
    for (int i = 0; i < 8; ++i) static_cast<uint16_t*>(p)[i] = FloatToHalf(v[i]);
#endif
  } else {
    for (int i = 0; i < 8; ++i) static_cast<uint16_t*>(p)[i] = FloatToBFloat16(v[i]);
  }
}

// A permute picks one of eight lanes by the low three bits of its index: codes of up to three
// bits index a table directly, the bits above them (the next code) fall in the repeats.
// (Four-bit codes would take two permutes and a blend: no cheaper than converting them.)
constexpr int kTableBits = 3;
template <int kBits>
inline Vec CodeTableV(Vec s, Vec z) {
  const Int8x32 lanes = {0, 1, 2, 3, 4, 5, 6, 7};
  return __builtin_convertvector(lanes & ((1 << kBits) - 1), Vec) * s + z;
}
template <int kBits>
inline Vec LookupCodesV(const uint8_t* p, Vec table) {
  const Int8x32 index = CodeWords8<kBits>(p);
#ifdef __AVX2__
  return (Vec)_mm256_permutevar8x32_ps((__m256)table, (__m256i)index);  // indices modulo 8
#else
  Vec v;
  for (int i = 0; i < 8; ++i) v[i] = table[index[i] & 7];
  return v;
#endif
}

#include "cpu/decode_head.inc"

}  // namespace lanes8

#ifdef GEARKV_HAVE_AVX512
// Sixteen-lane vectors for decode_head.inc, compiled for AVX-512 (F, BW, DQ, VL: x86-64-v4)
// and used only where the CPU has it. Everything in here is in an anonymous namespace, so
// nothing compiled for AVX-512 can stand in for a function the x86-64-v3 code calls.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl")
namespace lanes16 {

typedef float Vec __attribute__((vector_size(64)));
typedef float UnalignedVec __attribute__((vector_size(64), aligned(4)));
typedef int32_t Int16x32 __attribute__((vector_size(64)));
constexpr uint32_t kLanes = 16;
inline Vec LoadV(const float* p) { return *reinterpret_cast<const UnalignedVec*>(p); }
inline Vec BroadcastV(float f) { return (Vec)_mm512_set1_ps(f); }

// Sixteen codes of kBits < 8 (2 * kBits bytes at p; codes 8-15 start at byte kBits), each in
// the low bits of its lane with the codes that follow it above.
template <int kBits>
inline Int16x32 CodeWordsV(const uint8_t* p) {
  uint32_t lo = 0, hi = 0;
  std::memcpy(&lo, p, kBits);
  std::memcpy(&hi, p + kBits, kBits);
  // Two broadcasts into a register (built lane by lane it goes through the stack).
  const auto words = (Int16x32)_mm512_mask_set1_epi32(_mm512_set1_epi32(static_cast<int32_t>(lo)),
                                                      0xFF00, static_cast<int32_t>(hi));
  const Int16x32 shifts = {0,         kBits,     2 * kBits, 3 * kBits, 4 * kBits, 5 * kBits,
                           6 * kBits, 7 * kBits, 0,         kBits,     2 * kBits, 3 * kBits,
                           4 * kBits, 5 * kBits, 6 * kBits, 7 * kBits};
  return words >> shifts;
}

// As UnpackCodes8, for sixteen codes.
template <int kBits>
inline Vec UnpackCodesV(const uint8_t* p) {
  if constexpr (kBits == 8) {
    typedef uint8_t Bytes16 __attribute__((vector_size(16), aligned(1)));
    return __builtin_convertvector(
        __builtin_convertvector(*reinterpret_cast<const Bytes16*>(p), Int16x32), Vec);
  } else {
    return __builtin_convertvector(CodeWordsV<kBits>(p) & ((1 << kBits) - 1), Vec);
  }
}

// As in lanes8, with sixteen lanes: codes of up to four bits.
constexpr int kTableBits = 4;
template <int kBits>
inline Vec CodeTableV(Vec s, Vec z) {
  const Int16x32 lanes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  return __builtin_convertvector(lanes & ((1 << kBits) - 1), Vec) * s + z;
}
template <int kBits>
inline Vec LookupCodesV(const uint8_t* p, Vec table) {
  return __builtin_shuffle(table, CodeWordsV<kBits>(p));  // indices modulo 16
}

template <DType kOut>
inline void StoreAsV(Vec v, void* p) {
  if constexpr (kOut == DType::kFloat32) {
    *reinterpret_cast<UnalignedVec*>(p) = v;
  } else if constexpr (kOut == DType::kFloat16) {
    // (The masked form: the plain one trips GCC 12's -Wmaybe-uninitialized in its header.)
    _mm256_storeu_si256(static_cast<__m256i*>(p),
                        _mm512_maskz_cvtps_ph(0xFFFF, (__m512)v, _MM_FROUND_TO_NEAREST_INT));
  } else {
    for (int i = 0; i < 16; ++i) static_cast<uint16_t*>(p)[i] = FloatToBFloat16(v[i]);
  }
}

#include "cpu/decode_head.inc"

}  // namespace lanes16
#pragma GCC pop_options
#endif  // GEARKV_HAVE_AVX512

}  // namespace

void DecodeHead(const HeadLayout& l, const uint8_t* codes, const uint16_t* scales,
                const uint16_t* zeros, const StoredFactors& f, DType out_dtype, void* out,
                uint64_t out_row_stride) {
#ifdef GEARKV_HAVE_AVX512
  if (l.head_dim % lanes16::kLanes == 0 && UseAvx512()) {
    return lanes16::DecodeHeadLanes(l, codes, scales, zeros, f, out_dtype, out, out_row_stride);
  }
#endif
  lanes8::DecodeHeadLanes(l, codes, scales, zeros, f, out_dtype, out, out_row_stride);
}

}  // namespace gearkv::internal
