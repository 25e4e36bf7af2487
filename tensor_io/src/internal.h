// Helpers shared by the tensor_io sources (not installed): byte order, size checks and the
// limits every parser applies.
#ifndef GEARKV_TENSOR_IO_INTERNAL_H_
#define GEARKV_TENSOR_IO_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gearkv/base/strings.h"
#include "gearkv/tensor_file.h"

namespace gearkv::tensor_io_internal {

// Debian's abseil keeps its own string_view type (ABSL_OPTION_USE_STD_STRING_VIEW is 0).

// Tensors of more dimensions than this are refused.
inline constexpr size_t kMaxRank = 16;

// The `width`-byte little-endian unsigned integer at bytes[offset].
inline uint64_t ReadLe(std::string_view bytes, size_t offset, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value |= uint64_t{static_cast<uint8_t>(bytes[offset + i])} << (8 * i);
  }
  return value;
}

inline void AppendLe(std::string& out, uint64_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Element count of `dims`, refusing more than kMaxRank dimensions and byte counts (elements
// times elem_size) that overflow 64 bits.
absl::StatusOr<uint64_t> CheckedElements(const std::vector<uint64_t>& dims, size_t elem_size);

// INVALID_ARGUMENT unless tensor.data holds exactly the bytes its dims and dtype need.
absl::Status CheckDataSize(const Tensor& tensor);

}  // namespace gearkv::tensor_io_internal

#endif  // GEARKV_TENSOR_IO_INTERNAL_H_
