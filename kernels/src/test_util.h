// Helpers shared by the codec's tests: seeded random KV tensors and dtype conversion.
#ifndef GEARKV_KERNELS_TEST_UTIL_H_
#define GEARKV_KERNELS_TEST_UTIL_H_

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cpu/dtype_convert.h"
#include "gearkv/tensor.h"

namespace gearkv::testing {

// A tensor that owns its bytes.
struct OwnedTensor {
  TensorShape shape;
  DType dtype;
  std::string bytes;
  TensorView view() const { return {shape, dtype, bytes.data()}; }
  MutableTensorView mutable_view() { return {shape, dtype, bytes.data()}; }
};

inline OwnedTensor ZeroTensor(const TensorShape& shape, DType dtype) {
  return {shape, dtype, std::string(shape.NumElements() * DTypeSize(dtype), '\0')};
}

// Gaussian KV data with a few large channels in the keys (as real keys have), seeded.
inline OwnedTensor RandomKv(const TensorShape& shape, DType dtype, uint64_t seed) {
  OwnedTensor t = ZeroTensor(shape, dtype);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(shape.NumElements());
  const uint64_t matrix = shape.MatrixElements();
  for (uint64_t i = 0; i < values.size(); ++i) {
    const bool keys = (i / matrix) % 2 == 0;
    const uint32_t channel = i % shape.head_dim;
    values[i] = normal(rng) * (keys && channel % 16 == 3 ? 8.0f : 1.0f);
  }
  internal::StoreFromFloat(values.data(), values.size(), dtype, t.bytes.data());
  return t;
}

// Offset in elements of element (layer l, kind k, head h, token t, channel d) in `layout`, from
// the layouts' definitions (gearkv/layout.h), independently of the codec's tensor_layout.h.
inline uint64_t ElementOffset(const TensorShape& s, Layout layout, uint64_t l, uint64_t k,
                              uint64_t h, uint64_t t, uint64_t d) {
  const uint64_t L = s.layers, H = s.kv_heads, T = s.tokens, D = s.head_dim;
  switch (layout) {
    case Layout::kKv2LTD:
      return (((k * L + l) * T + t) * H + h) * D + d;
    case Layout::kPageFirst:
      return (((k * T + t) * L + l) * H + h) * D + d;
    default:
      return (((l * 2 + k) * H + h) * T + t) * D + d;
  }
}

// The bytes of a tensor of `shape` and `dtype` in layout `from`, rearranged into layout `to`.
inline std::string Relayout(const TensorShape& s, DType dtype, std::string_view bytes, Layout from,
                            Layout to) {
  const size_t e = DTypeSize(dtype);
  std::string out(bytes.size(), '\0');
  for (uint64_t l = 0; l < s.layers; ++l) {
    for (uint64_t k = 0; k < 2; ++k) {
      for (uint64_t h = 0; h < s.kv_heads; ++h) {
        for (uint64_t t = 0; t < s.tokens; ++t) {
          for (uint64_t d = 0; d < s.head_dim; ++d) {
            std::memcpy(out.data() + ElementOffset(s, to, l, k, h, t, d) * e,
                        bytes.data() + ElementOffset(s, from, l, k, h, t, d) * e, e);
          }
        }
      }
    }
  }
  return out;
}

inline std::vector<double> AsDoubles(const TensorView& t) {
  std::vector<float> f(t.shape.NumElements());
  internal::LoadAsFloat(t.data, t.dtype, f.size(), f.data());
  return {f.begin(), f.end()};
}

}  // namespace gearkv::testing

#endif  // GEARKV_KERNELS_TEST_UTIL_H_
