// gearkv::Tensor and its canonical KV views (tensor_file.h).

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"
#include "gearkv/tensor_file.h"
#include "internal.h"

namespace gearkv {
namespace tensor_io_internal {

absl::StatusOr<uint64_t> CheckedElements(const std::vector<uint64_t>& dims, size_t elem_size) {
  if (dims.size() > kMaxRank) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", dims.size(), " exceeds the limit of ", kMaxRank));
  }
  uint64_t n = 1;
  const uint64_t limit = std::numeric_limits<uint64_t>::max() / elem_size;
  for (uint64_t d : dims) {
    if (d != 0 && n > limit / d) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape [", absl::StrJoin(dims, ", "), "] overflows 64-bit byte counts"));
    }
    n *= d;
  }
  return n;
}

absl::Status CheckDataSize(const Tensor& tensor) {
  GEARKV_ASSIGN_OR_RETURN(uint64_t n, CheckedElements(tensor.dims, DTypeSize(tensor.dtype)));
  if (tensor.data.size() != n * DTypeSize(tensor.dtype)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", tensor.DebugString(), " needs ",
                                                   n * DTypeSize(tensor.dtype), " bytes, has ",
                                                   tensor.data.size()));
  }
  return absl::OkStatus();
}

}  // namespace tensor_io_internal

uint64_t Tensor::NumElements() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

std::string Tensor::DebugString() const {
  return absl::StrCat(ToAbsl(DTypeName(dtype)), "[", absl::StrJoin(dims, ", "), "]");
}

Tensor MakeKvTensor(const TensorShape& shape, DType dtype) {
  Tensor t;
  t.dtype = dtype;
  t.dims = {shape.layers, 2, shape.kv_heads, shape.tokens, shape.head_dim};
  t.data.assign(shape.NumElements() * DTypeSize(dtype), '\0');
  return t;
}

Tensor TensorFromView(const TensorView& view) {
  Tensor t;
  t.dtype = view.dtype;
  t.dims = {view.shape.layers, 2, view.shape.kv_heads, view.shape.tokens, view.shape.head_dim};
  t.data.assign(static_cast<const char*>(view.data), view.SizeBytes());
  return t;
}

absl::StatusOr<TensorShape> KvShapeOf(const Tensor& tensor) {
  const auto& d = tensor.dims;
  if (d.size() != 4 && d.size() != 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", tensor.DebugString(),
                     " is not a KV block: expected [layers, 2, kv_heads, tokens, head_dim] or "
                     "[2, kv_heads, tokens, head_dim]"));
  }
  const size_t o = d.size() - 4;  // offset of the K|V axis
  if (d[o] != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor ", tensor.DebugString(), ": the K|V axis (dim ", o, ") must be 2, is ", d[o]));
  }
  for (uint64_t v : d) {
    if (v > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", tensor.DebugString(), ": dimension ", v, " exceeds 2^32-1"));
    }
  }
  TensorShape shape;
  shape.layers = o == 1 ? static_cast<uint32_t>(d[0]) : 1;
  shape.kv_heads = static_cast<uint32_t>(d[o + 1]);
  shape.tokens = static_cast<uint32_t>(d[o + 2]);
  shape.head_dim = static_cast<uint32_t>(d[o + 3]);
  GEARKV_RETURN_IF_ERROR(ValidateShape(shape));
  if (tensor.data.size() != shape.NumElements() * DTypeSize(tensor.dtype)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", tensor.DebugString(), " holds ",
                                                   tensor.data.size(), " bytes, its shape needs ",
                                                   shape.NumElements() * DTypeSize(tensor.dtype)));
  }
  return shape;
}

absl::StatusOr<TensorView> AsKvView(const Tensor& tensor) {
  GEARKV_ASSIGN_OR_RETURN(TensorShape shape, KvShapeOf(tensor));
  return TensorView{shape, tensor.dtype, tensor.data.data()};
}

absl::StatusOr<MutableTensorView> AsMutableKvView(Tensor& tensor) {
  GEARKV_ASSIGN_OR_RETURN(TensorShape shape, KvShapeOf(tensor));
  return MutableTensorView{shape, tensor.dtype, tensor.data.data()};
}

}  // namespace gearkv
