// Helpers shared by the codec's tests: seeded random KV tensors and dtype conversion.
#ifndef GEARKV_KERNELS_TEST_UTIL_H_
#define GEARKV_KERNELS_TEST_UTIL_H_

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
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

inline std::vector<double> AsDoubles(const TensorView& t) {
  std::vector<float> f(t.shape.NumElements());
  internal::LoadAsFloat(t.data, t.dtype, f.size(), f.data());
  return {f.begin(), f.end()};
}

}  // namespace gearkv::testing

#endif  // GEARKV_KERNELS_TEST_UTIL_H_
