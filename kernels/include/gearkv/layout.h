// The memory orders of a KV tensor (see tensor.h). A header of its own, free of absl, so that the
// CUDA device code (kernels/cuda/, nvcc) can name the values too.
#ifndef GEARKV_LAYOUT_H_
#define GEARKV_LAYOUT_H_

#include <cstdint>

namespace gearkv {

// The memory order of a KV tensor's elements, row-major over the dimensions named (the element
// count is the same in every layout: TensorShape::NumElements()).
enum class Layout : uint8_t {
  kCanonical = 0,  // [layers][2][kv_heads][tokens][head_dim]
  // [2][layers][tokens][kv_heads * head_dim]: LMCache's KV_2LTD. The same memory order as SGLang
  // HiCache's layer_first ([2][layers][tokens][kv_heads][head_dim]), hence one value.
  kKv2LTD = 1,
  kLayerFirst = kKv2LTD,
  kPageFirst = 2,  // [2][tokens][layers][kv_heads][head_dim]: SGLang HiCache's page_first
};

}  // namespace gearkv

#endif  // GEARKV_LAYOUT_H_
