#include "gearkv/tensor.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace gearkv {

size_t DTypeSize(DType dtype) { return dtype == DType::kFloat32 ? 4 : 2; }

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat32:
      return "float32";
  }
  return "invalid";
}

bool IsValidDType(uint8_t value) { return value >= 1 && value <= 3; }

absl::StatusOr<DType> ParseDType(std::string_view name) {
  const std::string n = absl::AsciiStrToLower(std::string(name));
  if (n == "float16" || n == "fp16" || n == "f16" || n == "half") return DType::kFloat16;
  if (n == "bfloat16" || n == "bf16") return DType::kBFloat16;
  if (n == "float32" || n == "fp32" || n == "f32" || n == "float") return DType::kFloat32;
  return absl::InvalidArgumentError(absl::StrCat("unknown dtype '", std::string(name),
                                                 "' (expected float16, bfloat16 or float32)"));
}

std::string_view LayoutName(Layout layout) {
  switch (layout) {
    case Layout::kCanonical:
      return "canonical";
    case Layout::kKv2LTD:
      return "kv_2ltd";
    case Layout::kPageFirst:
      return "page_first";
  }
  return "invalid";
}

bool IsValidLayout(uint8_t value) { return value <= 2; }

absl::Status ValidateLayout(Layout layout) {
  if (IsValidLayout(static_cast<uint8_t>(layout))) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("layout ", static_cast<int>(layout),
                   " is not one of canonical (0), kv_2ltd = layer_first (1), page_first (2)"));
}

absl::StatusOr<Layout> ParseLayout(std::string_view name) {
  const std::string n = absl::AsciiStrToLower(std::string(name));
  if (n == "canonical") return Layout::kCanonical;
  if (n == "kv_2ltd" || n == "layer_first") return Layout::kKv2LTD;
  if (n == "page_first") return Layout::kPageFirst;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown layout '", std::string(name),
                   "' (expected canonical, kv_2ltd, layer_first or page_first)"));
}

std::string TensorShape::DebugString() const {
  return absl::StrCat("[layers=", layers, ", kv=2, heads=", kv_heads, ", tokens=", tokens,
                      ", head_dim=", head_dim, "]");
}

absl::Status ValidateShape(const TensorShape& s) {
  if (s.layers == 0 || s.kv_heads == 0 || s.tokens == 0 || s.head_dim == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("every dimension must be at least 1, got ", s.DebugString()));
  }
  if (s.tokens > kMaxTokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokens ", s.tokens, " is over the limit of ", kMaxTokens, " per block"));
  }
  if (s.head_dim > kMaxHeadDim) {
    return absl::InvalidArgumentError(
        absl::StrCat("head_dim ", s.head_dim, " is over the limit of ", kMaxHeadDim));
  }
  if (s.head_dim % kHeadDimMultiple != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("head_dim ", s.head_dim, " must be a multiple of ", kHeadDimMultiple));
  }
  // Each factor is < 2^32, so check the running product against the limit step by step.
  uint64_t n = uint64_t{s.layers} * 2 * s.kv_heads;
  if (n > kMaxElements || n * s.tokens > kMaxElements || s.NumElements() > kMaxElements) {
    return absl::InvalidArgumentError(
        absl::StrCat("shape ", s.DebugString(), " holds over 2^34 elements"));
  }
  return absl::OkStatus();
}

}  // namespace gearkv
