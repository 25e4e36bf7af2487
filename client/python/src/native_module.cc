// gearkv._native: the data path of the Python package (gearkv.Client wraps NativeClient,
// gearkv.codec the codec functions). Every call that waits on the network or decodes releases
// the GIL; failures raise the exception the package's error factory makes (gearkv/errors.py).
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "native_common.h"

namespace gearkv::python {
namespace {

PyObject* g_error_factory = nullptr;  // set once by gearkv.errors at import; never released

void TranslateStatusError(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const StatusError& e) {
    if (g_error_factory == nullptr) {
      PyErr_SetString(PyExc_RuntimeError, e.status().ToString().c_str());
      return;
    }
    const std::string message(e.status().message());
    try {
      nb::object exc = nb::handle(g_error_factory)(static_cast<int>(e.status().code()),
                                                   nb::str(message.data(), message.size()),
                                                   nb::str(e.method().c_str()));
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    } catch (nb::python_error& error) {  // the factory raised: that error stands
      error.restore();
    }
  }
}

}  // namespace

DType DTypeOf(const nb::dlpack::dtype& dtype, bool bfloat16) {
  using Code = nb::dlpack::dtype_code;
  const auto code = static_cast<Code>(dtype.code);
  if (dtype.lanes == 1 && dtype.bits == 16 &&
      (code == Code::Bfloat || (bfloat16 && (code == Code::UInt || code == Code::Int)))) {
    return DType::kBFloat16;
  }
  if (!bfloat16 && dtype.lanes == 1 && code == Code::Float) {
    if (dtype.bits == 16) return DType::kFloat16;
    if (dtype.bits == 32) return DType::kFloat32;
  }
  throw StatusError(absl::InvalidArgumentError(absl::StrCat(
                        "unsupported element type (code ", dtype.code, ", ", dtype.bits,
                        " bits): float16, bfloat16 or float32; bfloat16 bits as uint16 with "
                        "dtype='bfloat16'")),
                    "");
}

void LayoutDims(const TensorShape& s, Layout layout, size_t dims[5]) {
  const size_t l = s.layers, h = s.kv_heads, t = s.tokens, d = s.head_dim;
  const size_t canonical[5] = {l, 2, h, t, d};
  const size_t kv2ltd[5] = {2, l, t, h, d};
  const size_t page_first[5] = {2, t, l, h, d};
  const size_t* src = layout == Layout::kKv2LTD      ? kv2ltd
                      : layout == Layout::kPageFirst ? page_first
                                                     : canonical;
  std::memcpy(dims, src, sizeof(canonical));
}

TensorShape ShapeOf(size_t ndim, const int64_t* dims, Layout layout) {
  static constexpr const char* kNames[] = {
      "[layers][2 (K,V)][kv_heads][tokens][head_dim]",
      "[2 (K,V)][layers][tokens][kv_heads][head_dim]",
      "[2 (K,V)][tokens][layers][kv_heads][head_dim]",
  };
  const int which = layout == Layout::kKv2LTD ? 1 : layout == Layout::kPageFirst ? 2 : 0;
  auto refuse = [&] {
    std::string got;
    for (size_t i = 0; i < ndim; ++i) absl::StrAppend(&got, i ? ", " : "", dims[i]);
    throw StatusError(absl::InvalidArgumentError(
                          absl::StrCat("a KV block in layout ", std::string(LayoutName(layout)),
                                       " must be 5-D ", kNames[which], ", got shape (", got, ")")),
                      "");
  };
  if (ndim != 5) refuse();
  for (size_t i = 0; i < 5; ++i) {
    if (dims[i] <= 0 || dims[i] > int64_t{UINT32_MAX}) refuse();
  }
  auto u = [&](int i) { return static_cast<uint32_t>(dims[i]); };
  switch (which) {
    case 1:
      if (dims[0] != 2) refuse();
      return {u(1), u(3), u(2), u(4)};
    case 2:
      if (dims[0] != 2) refuse();
      return {u(2), u(3), u(1), u(4)};
    default:
      if (dims[1] != 2) refuse();
      return {u(0), u(2), u(3), u(4)};
  }
}

nb::dict SpecDict(const CodecSpec& spec, const std::string& preset) {
  nb::dict d;
  if (spec.method == Method::kNone) {
    d["preset"] = "none";
    return d;
  }
  d["preset"] = preset;
  d["bits"] = spec.bits;
  d["group_size"] = spec.group_size;
  d["rank"] = spec.rank;
  d["outlier_ratio"] = spec.outlier_ratio;
  d["power_iterations"] = spec.power_iterations;
  d["seed"] = spec.seed;
  return d;
}

nb::dict CostDict(const BlockCost& cost) {
  nb::dict d;
  d["raw_bytes"] = cost.raw_bytes;
  d["stored_bytes"] = cost.stored_bytes;
  d["bits_per_element"] = cost.bits_per_element;
  d["ratio"] = cost.ratio;
  d["relative_error"] = cost.relative_error ? nb::cast(*cost.relative_error) : nb::none();
  return d;
}

nb::object NewArray(const TensorShape& shape, Layout layout, DType dtype, void** data) {
  size_t dims[5];
  LayoutDims(shape, layout, dims);
  const size_t bytes = shape.NumElements() * DTypeSize(dtype);
  auto* buffer = new uint8_t[bytes == 0 ? 1 : bytes];  // default-initialised: not zero-filled
  nb::capsule owner(buffer, [](void* p) noexcept { delete[] static_cast<uint8_t*>(p); });
  using Code = nb::dlpack::dtype_code;
  nb::dlpack::dtype element{static_cast<uint8_t>(Code::Float), 16, 1};
  if (dtype == DType::kFloat32) element.bits = 32;
  if (dtype == DType::kBFloat16) element.code = static_cast<uint8_t>(Code::UInt);
  *data = buffer;
  return nb::ndarray<nb::numpy>(buffer, 5, dims, owner, nullptr, element).cast();
}

NB_MODULE(_native, m) {
  m.doc() = "gearkv's native data path (the C++ client and codec); use gearkv.Client";
  nb::register_exception_translator(TranslateStatusError);
  m.def(
      "set_error_factory",
      [](nb::object factory) {
        Py_XDECREF(g_error_factory);
        g_error_factory = factory.release().ptr();
      },
      "factory(code: int, message: str, method: str) -> Exception, for every failed call");
  // The wire contract's service name, from the generated code (stated once, in the proto).
  m.attr("SERVICE_NAME") = gearkv::v1::KVCache::service_full_name();
  m.attr("HAS_CUDA_BUILD") =
#ifdef GEARKV_PY_HAS_CUDA
      true;
#else
      false;
#endif
  BindClient(m);
  BindCodec(m);
}

}  // namespace gearkv::python
