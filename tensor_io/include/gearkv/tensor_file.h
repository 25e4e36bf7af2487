// Owning tensors and the two file formats gearkv reads and writes: NumPy `.npy` and
// `.safetensors`.
//
// Supported element types:
//   .npy          '<f2' (float16) and '<f4' (float32), format versions 1.0, 2.0 and 3.0,
//                 C order only. NumPy has no bfloat16 dtype: SerializeNpy refuses bf16 (write
//                 safetensors, or convert to float32 first).
//   .safetensors  F16, BF16 and F32. A file may hold many tensors; other dtypes are refused
//                 when read (by name) and never written.
// Data is little-endian, row-major (the only layout either format uses here).
//
// Every parse is bounds-checked: a truncated, oversized or malformed file gives
// INVALID_ARGUMENT with a message naming the problem, never a crash. File-system failures give
// NOT_FOUND (no such file) or INTERNAL / PERMISSION_DENIED as the OS reports.
//
// Thread-safety: all functions are reentrant; a Tensor is a plain value.
#ifndef GEARKV_TENSOR_FILE_H_
#define GEARKV_TENSOR_FILE_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gearkv/tensor.h"

namespace gearkv {

// An n-dimensional tensor that owns its bytes (little-endian, row-major).
struct Tensor {
  DType dtype = DType::kFloat16;
  std::vector<uint64_t> dims;  // empty = a scalar (one element)
  std::string data;            // exactly NumElements() * DTypeSize(dtype) bytes when valid

  // Product of dims (1 for a scalar). Assumes the dims were validated (no overflow).
  uint64_t NumElements() const;
  // "float16[2, 8, 256, 128]".
  std::string DebugString() const;
};

// A zero-filled canonical KV tensor with dims [layers, 2, kv_heads, tokens, head_dim].
Tensor MakeKvTensor(const TensorShape& shape, DType dtype);
// A copy of `view` as a canonical 5-D tensor. `view.data` must hold view.SizeBytes() bytes.
Tensor TensorFromView(const TensorView& view);

// The canonical KV shape of a tensor with dims [layers, 2, kv_heads, tokens, head_dim] or
// [2, kv_heads, tokens, head_dim] (one layer). INVALID_ARGUMENT when the rank is not 4 or 5,
// the K|V axis is not 2, the data size does not match, or ValidateShape refuses the shape.
absl::StatusOr<TensorShape> KvShapeOf(const Tensor& tensor);
// Non-owning views of `tensor` as a canonical KV block (see KvShapeOf). The view points into
// `tensor.data`: keep the tensor alive and unmoved while the view is used.
absl::StatusOr<TensorView> AsKvView(const Tensor& tensor);
absl::StatusOr<MutableTensorView> AsMutableKvView(Tensor& tensor);

// ---- .npy ------------------------------------------------------------------------------------

// Parses a whole .npy file held in memory.
absl::StatusOr<Tensor> ParseNpy(std::string_view file_bytes);
// The .npy bytes of `tensor` (version 1.0 header when it fits, else 2.0; header padded to 64
// bytes as NumPy does). INVALID_ARGUMENT for bf16 or a data size that doesn't match dims.
absl::StatusOr<std::string> SerializeNpy(const Tensor& tensor);

// ---- .safetensors ----------------------------------------------------------------------------

// The tensors of a safetensors file in the order of their data offsets, plus its
// "__metadata__" string map.
struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;
};

// Parses a whole .safetensors file held in memory. INVALID_ARGUMENT for a truncated file, a
// header that is not valid JSON, an unsupported dtype, bad shapes or data offsets outside the
// data section or not matching the shape.
absl::StatusOr<SafetensorsFile> ParseSafetensors(std::string_view file_bytes);
// The safetensors bytes of `file` (tensors laid out in the given order, header padded with
// spaces to a multiple of 8 bytes). INVALID_ARGUMENT for duplicate or empty names, a name
// "__metadata__", or a tensor whose data size doesn't match its dims.
absl::StatusOr<std::string> SerializeSafetensors(const SafetensorsFile& file);

// ---- files -----------------------------------------------------------------------------------

enum class TensorFileFormat { kNpy, kSafetensors };
// From the path's extension (".npy", ".safetensors"); INVALID_ARGUMENT otherwise.
absl::StatusOr<TensorFileFormat> TensorFileFormatOf(std::string_view path);

// Reads the tensor in `path` (format by extension). For safetensors, `tensor_name` picks a
// tensor; empty means the file's only tensor (INVALID_ARGUMENT listing the names when there
// are several). `tensor_name` must be empty for .npy.
absl::StatusOr<Tensor> ReadTensorFile(const std::string& path, std::string_view tensor_name = "");
// Writes `tensor` to `path` (format by extension; safetensors stores it under `tensor_name`,
// "kv" when empty, with `metadata`). Writes to a temporary file and renames it into place.
absl::Status WriteTensorFile(const std::string& path, const Tensor& tensor,
                             std::string_view tensor_name = "",
                             const std::map<std::string, std::string>& metadata = {});

// Whole-file helpers (binary).
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);
absl::Status WriteFileBytesAtomically(const std::string& path, std::string_view bytes);

}  // namespace gearkv

#endif  // GEARKV_TENSOR_FILE_H_
