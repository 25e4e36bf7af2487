#include "cpu/gear_head.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/decode_head.h"
#include "cpu/dtype_convert.h"
#include "cpu/low_rank.h"
#include "cpu/outliers.h"
#include "cpu/quantize.h"
#include "cpu/simd.h"
#include "half.h"

namespace gearkv::internal {
namespace {

constexpr float kHalfMax = 65504.0f;

template <typename T>
T* At(char* base, uint64_t offset) {
  return reinterpret_cast<T*>(base + offset);
}
template <typename T>
const T* At(const char* base, uint64_t offset) {
  return reinterpret_cast<const T*>(base + offset);
}

// x[0, n) = the n elements of `dtype` at `in` as fp32; false when one is not finite or is beyond
// fp16's range. n is a multiple of 8. fp16 input is checked on its bits (every finite fp16 is in
// range: the exponent must not be all ones); other dtypes after conversion, a chunk at a time
// while it is in L1.
bool LoadAndCheck(const void* in, DType dtype, uint64_t n, float* x) {
  if (dtype == DType::kFloat16) {
    typedef uint16_t Half16 __attribute__((vector_size(32), aligned(2)));
    const auto* h = static_cast<const Half16*>(in);
    Half16 special = {};
    uint64_t i = 0;
#ifdef __F16C__
    // Checked and converted in one pass over the input.
    typedef uint16_t Half16Value __attribute__((vector_size(32)));
    const auto* p = static_cast<const uint16_t*>(in);
    for (; i + 16 <= n; i += 16) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
      special |= ((Half16Value)v & 0x7c00) == 0x7c00;
      _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_castsi256_si128(v)));
      _mm256_storeu_ps(x + i + 8, _mm256_cvtph_ps(_mm256_extracti128_si256(v, 1)));
    }
#endif
    const uint64_t converted = i;
    for (; i + 16 <= n; i += 16) special |= (h[i / 16] & 0x7c00) == 0x7c00;
    const auto* tail = static_cast<const uint16_t*>(in);
    bool bad = false;
    for (; i < n; ++i) bad |= (tail[i] & 0x7c00) == 0x7c00;
    for (int lane = 0; lane < 16; ++lane) bad |= special[lane] != 0;
    if (bad) return false;
    LoadAsFloat(tail + converted, dtype, n - converted, x + converted);
    return true;
  }
  constexpr uint64_t kChunk = 2048;
  const Float8 max = Broadcast8(kHalfMax);
  const auto* src = static_cast<const char*>(in);
  Int8x32 bad = {};
  for (uint64_t c = 0; c < n; c += kChunk) {
    const uint64_t m = std::min(kChunk, n - c);
    float* chunk = x + c;
    LoadAsFloat(src + c * DTypeSize(dtype), dtype, m, chunk);
    for (uint64_t i = 0; i < m; i += 8) {  // m is a multiple of 8 (head_dim is)
      const Float8 v = Load8(chunk + i);
      bad |= !(v <= max && v >= -max);  // NaN fails too
    }
  }
  return LaneMask8(bad) == 0;
}

}  // namespace

bool CompressHead(const HeadLayout& l, const CodecSpec& spec, uint64_t head_index, const void* in,
                  uint64_t row_stride, DType dtype, char* out) {
  const uint64_t D = l.head_dim, n = uint64_t{l.tokens} * D;
  thread_local std::vector<float> x_buf;
  thread_local std::vector<uint32_t> index_buf;
  float* x = CacheLineAligned(x_buf, n);
  if (row_stride == D) {
    if (!LoadAndCheck(in, dtype, n, x)) return false;
  } else {  // a row at a time, into the same dense x
    // Rows a few KiB apart defeat the hardware prefetchers (they follow streams within a page),
    // so each row is prefetched kRowsAhead rows before it is read.
    constexpr uint32_t kRowsAhead = 16;
    const size_t stride_bytes = row_stride * DTypeSize(dtype), row_bytes = D * DTypeSize(dtype);
    const auto* base = static_cast<const char*>(in);
    for (uint32_t t = 0; t < l.tokens; ++t) {
      if (t + kRowsAhead < l.tokens) {
        const char* ahead = base + (t + kRowsAhead) * stride_bytes;
        for (size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(ahead + b);
      }
      if (!LoadAndCheck(base + t * stride_bytes, dtype, D, x + t * D)) return false;
    }
  }

  if (l.outliers > 0) {
    index_buf.resize(l.outliers);
    SelectOutliers(l, x, At<uint16_t>(out, l.outlier_offsets_offset), index_buf.data());
    const char* src = static_cast<const char*>(in);
    char* values = out + l.outlier_values_offset;
    const uint32_t* index = index_buf.data();  // token * head_dim + channel
    auto element = [&](uint64_t i) {
      return row_stride == D ? index[i] : index[i] / D * row_stride + index[i] % D;
    };
    if (l.value_bytes == 2) {  // exact bits, two or four bytes at a time
      for (uint64_t i = 0; i < l.outliers; ++i)
        std::memcpy(values + 2 * i, src + 2 * element(i), 2);
    } else {
      for (uint64_t i = 0; i < l.outliers; ++i)
        std::memcpy(values + 4 * i, src + 4 * element(i), 4);
    }
  }
  QuantizeHead(l, x, At<uint8_t>(out, l.codes_offset), At<uint16_t>(out, l.scales_offset),
               At<uint16_t>(out, l.zeros_offset));
  if (l.rank > 0) {
    for (uint64_t i = 0; i < l.outliers; ++i) x[index_buf[i]] = 0.0f;  // S holds them exactly
    FitLowRank(x, l.tokens, l.head_dim, l.rank, spec.power_iterations, spec.seed, head_index,
               At<int8_t>(out, l.u_offset), At<uint16_t>(out, l.u_scales_offset),
               At<uint16_t>(out, l.vt_offset));
  }
  return true;
}

bool DecompressHead(const HeadLayout& l, const char* in, DType block_dtype, void* out,
                    uint64_t out_row_stride, DType out_dtype) {
  const StoredFactors factors{in + l.u_offset, At<uint16_t>(in, l.u_scales_offset),
                              At<uint16_t>(in, l.vt_offset)};
  DecodeHead(l, At<uint8_t>(in, l.codes_offset), At<uint16_t>(in, l.scales_offset),
             At<uint16_t>(in, l.zeros_offset), factors, out_dtype, out, out_row_stride);
  if (l.outliers == 0) return true;
  const uint16_t* offsets = At<uint16_t>(in, l.outlier_offsets_offset);
  const char* values = in + l.outlier_values_offset;
  const uint32_t T = l.tokens, D = l.head_dim;
  // Calls copy(outlier number, element index in out) for every outlier; false at an offset
  // outside its pool.
  const uint32_t* per_side = OutliersPerSideOfPools(l);
  auto scatter = [&](auto copy) {
    uint64_t at = 0;
    for (uint32_t p = 0; p < l.pools; ++p) {
      const uint32_t pool_size = PoolSize(l.kind, T, D, p);
      const uint32_t count = 2 * per_side[p];
      for (uint32_t i = 0; i < count; ++i, ++at) {
        const uint32_t off = offsets[at];
        if (off >= pool_size) return false;
        // keys: token off of channel p; values: token p * 8 + off / D, channel off % D.
        const uint64_t token = l.kind == Kind::kKeys ? off : p * kValuePoolTokens + off / D;
        const uint64_t channel = l.kind == Kind::kKeys ? p : off % D;
        copy(at, token * out_row_stride + channel);
      }
    }
    return true;
  };
  if (out_dtype == block_dtype && l.value_bytes == 2) {  // the exact bits, two bytes each
    const auto* v = reinterpret_cast<const uint16_t*>(values);
    auto* o = static_cast<uint16_t*>(out);
    return scatter([&](uint64_t at, uint64_t e) { std::memcpy(o + e, v + at, 2); });
  }
  const size_t vb = l.value_bytes, ob = DTypeSize(out_dtype);
  char* dst = static_cast<char*>(out);
  return scatter([&](uint64_t at, uint64_t e) {
    const float v = LoadOne(values + at * vb, block_dtype);
    StoreFromFloat(&v, 1, out_dtype, dst + e * ob);
  });
}

}  // namespace gearkv::internal
