// Where one head of a KV tensor lies in each Layout (gearkv/layout.h), for both backends (the
// functions are __host__ __device__ under nvcc). In every layout the (layer, K|V, head) matrix is
// `tokens` rows of `head_dim` contiguous elements with a constant row stride, so a backend reads
// or writes a head through a base offset and a row stride, in the pass that converts the dtype:
//
//   layout      element (layer l, kind k, head h, token t, channel d)        row stride
//   canonical   (((l * 2 + k) * H + h) * T + t) * D + d                       D
//   kv_2ltd     (((k * L + l) * T + t) * H + h) * D + d                       H * D
//   page_first  (((k * T + t) * L + l) * H + h) * D + d                       L * H * D
//
// (L layers, H kv_heads, T tokens, D head_dim). Offsets and strides count elements. Plain
// arithmetic, no absl: layouts are checked (ValidateLayout) before anything here is used.
#ifndef GEARKV_KERNELS_TENSOR_LAYOUT_H_
#define GEARKV_KERNELS_TENSOR_LAYOUT_H_

#include <cstdint>

#include "gear_math.h"  // GEARKV_HD
#include "gearkv/layout.h"

namespace gearkv::internal {

// One head's place in a tensor: element (t, d) of the head is at base + t * row_stride + d.
struct HeadPlacement {
  uint64_t base = 0;
  uint64_t row_stride = 0;

  GEARKV_HD uint64_t At(uint64_t token, uint64_t channel) const {
    return base + token * row_stride + channel;
  }
};

// The dimensions of a tensor and its layout; plain values, copied into kernel arguments.
struct TensorPlacement {
  Layout layout = Layout::kCanonical;
  uint32_t layers = 0, kv_heads = 0, tokens = 0, head_dim = 0;

  GEARKV_HD uint64_t RowStride() const {
    const uint64_t D = head_dim;
    switch (layout) {
      case Layout::kKv2LTD:
        return uint64_t{kv_heads} * D;
      case Layout::kPageFirst:
        return uint64_t{layers} * kv_heads * D;
      default:
        return D;
    }
  }

  // Head number i = (layer * 2 + kind) * kv_heads + head: the codec's work-item order, the
  // canonical order of the heads.
  GEARKV_HD HeadPlacement Head(uint64_t i) const {
    const uint64_t H = kv_heads, T = tokens, D = head_dim, L = layers;
    const uint64_t head = i % H, matrix = i / H, layer = matrix / 2, kind = matrix % 2;
    switch (layout) {
      case Layout::kKv2LTD:
        return {((kind * L + layer) * T * H + head) * D, H * D};
      case Layout::kPageFirst:
        return {((kind * T * L + layer) * H + head) * D, L * H * D};
      default:
        return {i * T * D, D};
    }
  }
};

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_TENSOR_LAYOUT_H_
