// Shared pieces of the gearkv._native module: absl::Status -> Python exception, tensor views
// over nb::ndarray buffers, spec and cost dictionaries.
#ifndef GEARKV_PYTHON_NATIVE_COMMON_H_
#define GEARKV_PYTHON_NATIVE_COMMON_H_

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>

#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gearkv/block_cost.h"
#include "gearkv/codec.h"
#include "gearkv/tensor.h"

namespace gearkv::python {

namespace nb = nanobind;

// A failed call, raised to Python as the exception the package's error factory makes from
// (absl status code, message, method) (see SetErrorFactory in native_module.cc).
class StatusError : public std::exception {
 public:
  StatusError(absl::Status status, std::string method)
      : status_(std::move(status)), method_(std::move(method)) {}
  const char* what() const noexcept override { return "gearkv status error"; }
  const absl::Status& status() const { return status_; }
  const std::string& method() const { return method_; }

 private:
  absl::Status status_;
  std::string method_;
};

inline void ThrowIfError(const absl::Status& status, const char* method) {
  if (!status.ok()) throw StatusError(status, method);
}

// A deadline in seconds from Python: None = none (a century).
inline absl::Duration DeadlineOf(std::optional<double> seconds) {
  return seconds ? absl::Seconds(std::max(0.0, *seconds)) : absl::Hours(24 * 365 * 100);
}

// The wire dtype of a buffer's element type; `bfloat16` marks 2-byte integer bits as bf16.
DType DTypeOf(const nb::dlpack::dtype& dtype, bool bfloat16);

// The layout's dims of a KV tensor of `shape` (5 of them; see Layout in tensor.h).
void LayoutDims(const TensorShape& shape, Layout layout, size_t dims[5]);

// The TensorShape a 5-D buffer in `layout` holds; INVALID_ARGUMENT naming the layout's dims
// when the buffer does not have them.
TensorShape ShapeOf(size_t ndim, const int64_t* dims, Layout layout);

nb::dict SpecDict(const CodecSpec& spec, const std::string& preset);
nb::dict CostDict(const BlockCost& cost);

// A new numpy array of `shape` in `layout` and `dtype`, not zero-filled (bfloat16 as uint16 bits);
// `data` is set to its buffer. Call with the GIL held.
nb::object NewArray(const TensorShape& shape, Layout layout, DType dtype, void** data);

void BindClient(nb::module_& m);
void BindCodec(nb::module_& m);

}  // namespace gearkv::python

#endif  // GEARKV_PYTHON_NATIVE_COMMON_H_
