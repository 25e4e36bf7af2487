#include "cpu/gear_head.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/dtype_convert.h"
#include "cpu/low_rank.h"
#include "cpu/outliers.h"
#include "cpu/quantize.h"
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

}  // namespace

bool CompressHead(const HeadLayout& l, const CodecSpec& spec, uint64_t head_index, const void* in,
                  DType dtype, char* out) {
  const uint64_t n = uint64_t{l.tokens} * l.head_dim;
  thread_local std::vector<float> x_buf;
  thread_local std::vector<uint32_t> index_buf;
  x_buf.resize(n);
  float* x = x_buf.data();
  LoadAsFloat(in, dtype, n, x);
  int bad = 0;
  for (uint64_t i = 0; i < n; ++i) bad |= !(std::fabs(x[i]) <= kHalfMax);  // NaN fails too
  if (bad) return false;

  if (l.outliers > 0) {
    index_buf.resize(l.outliers);
    SelectOutliers(l, spec.outlier_ratio, x, At<uint16_t>(out, l.outlier_offsets_offset),
                   index_buf.data());
    const size_t vb = l.value_bytes;
    const char* src = static_cast<const char*>(in);
    char* values = out + l.outlier_values_offset;
    for (uint64_t i = 0; i < l.outliers; ++i) {
      std::memcpy(values + i * vb, src + index_buf[i] * vb, vb);  // exact bits
    }
  }
  QuantizeHead(l, x, At<uint8_t>(out, l.codes_offset), At<uint16_t>(out, l.scales_offset),
               At<uint16_t>(out, l.zeros_offset));
  if (l.rank > 0) {
    FitLowRank(x, l.tokens, l.head_dim, l.rank, spec.power_iterations, spec.seed, head_index,
               At<uint16_t>(out, l.u_offset), At<uint16_t>(out, l.vt_offset));
  }
  return true;
}

bool DecompressHead(const HeadLayout& l, const char* in, DType block_dtype, void* out,
                    DType out_dtype) {
  const uint32_t T = l.tokens, D = l.head_dim, r = l.rank;
  thread_local std::vector<float> buf;
  buf.resize(size_t{3} * D + size_t{r} * D + r);
  float *scale_row = buf.data(), *zero_row = scale_row + D, *row = zero_row + D;
  float *vt = row + D, *u_row = vt + size_t{r} * D;
  const uint16_t* u = At<uint16_t>(in, l.u_offset);
  const uint16_t* vt_h = At<uint16_t>(in, l.vt_offset);
  for (size_t i = 0; i < size_t{r} * D; ++i) vt[i] = HalfToFloat(vt_h[i]);
  const uint8_t* codes = At<uint8_t>(in, l.codes_offset);
  const uint16_t* scales = At<uint16_t>(in, l.scales_offset);
  const uint16_t* zeros = At<uint16_t>(in, l.zeros_offset);
  const size_t out_elem = DTypeSize(out_dtype);
  char* dst = static_cast<char*>(out);
  for (uint32_t t = 0; t < T; ++t) {
    const uint32_t group_width = PrepareGroupRows(l, t, scales, zeros, scale_row, zero_row);
    for (uint32_t j = 0; j < r; ++j) u_row[j] = HalfToFloat(u[size_t{t} * r + j]);
    DecodeRow(l, codes + t * l.row_code_bytes, scale_row, zero_row, group_width, u_row, vt, row);
    StoreFromFloat(row, D, out_dtype, dst + size_t{t} * D * out_elem);
  }
  if (l.outliers == 0) return true;
  const uint16_t* offsets = At<uint16_t>(in, l.outlier_offsets_offset);
  const char* values = in + l.outlier_values_offset;
  const size_t vb = l.value_bytes;
  uint64_t at = 0;
  for (uint32_t p = 0; p < l.pools; ++p) {
    const uint32_t pool_size = PoolSize(l.kind, T, D, p);
    const uint32_t count = 2 * OutliersPerSide(l.outlier_ratio, pool_size, p);
    for (uint32_t i = 0; i < count; ++i, ++at) {
      const uint32_t off = offsets[at];
      if (off >= pool_size) return false;
      const uint64_t e =
          l.kind == Kind::kKeys ? uint64_t{off} * D + p : uint64_t{p} * kValuePoolTokens * D + off;
      if (out_dtype == block_dtype) {
        std::memcpy(dst + e * out_elem, values + at * vb, vb);
      } else {
        const float v = LoadOne(values + at * vb, block_dtype);
        StoreFromFloat(&v, 1, out_dtype, dst + e * out_elem);
      }
    }
  }
  return true;
}

}  // namespace gearkv::internal
