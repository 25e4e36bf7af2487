// Synthetic KV tensors for the CLI's bench, the end-to-end tests and the service benchmark.
#ifndef GEARKV_CLIENT_CLI_RANDOM_TENSOR_H_
#define GEARKV_CLIENT_CLI_RANDOM_TENSOR_H_

#include <cstdint>

#include "gearkv/tensor.h"
#include "gearkv/tensor_file.h"

namespace gearkv::cli {

// A canonical KV tensor of `shape` whose elements are drawn from N(0, stddev^2) with `seed`
// (deterministic for a given seed), stored as `dtype` (round to nearest even).
Tensor GaussianKvTensor(const TensorShape& shape, DType dtype, uint64_t seed, float stddev = 1.0f);

// IEEE float <-> float16 / bfloat16 bits (round to nearest even; NaN stays NaN).
uint16_t FloatToHalfBits(float value);
float HalfBitsToFloat(uint16_t bits);
uint16_t FloatToBFloat16Bits(float value);
float BFloat16BitsToFloat(uint16_t bits);

// Element `i` of `tensor` as a float (any dtype).
float ElementAsFloat(const Tensor& tensor, uint64_t i);

}  // namespace gearkv::cli

#endif  // GEARKV_CLIENT_CLI_RANDOM_TENSOR_H_
