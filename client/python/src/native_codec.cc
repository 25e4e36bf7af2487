// The codec for Python without a server: compress / decompress / inspect of the block format
// (kernels/block_format.md) with the same C++ codec the server runs, so the bytes are the same.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "native_common.h"

namespace gearkv::python {
namespace {

using InBuffer = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;
using OutBuffer = nb::ndarray<nb::c_contig, nb::device::cpu>;

const Codec& CpuCodec() {
  static const Codec* codec = MakeCodec(Backend::kCpu)->release();  // the CPU backend never fails
  return *codec;
}

Layout LayoutOf(int value) {
  if (!IsValidLayout(static_cast<uint8_t>(value))) {
    throw StatusError(absl::InvalidArgumentError(absl::StrCat("unknown layout ", value)), "");
  }
  return static_cast<Layout>(value);
}

nb::dict InfoDict(const BlockInfo& info) {
  nb::dict d;
  d["format_version"] = info.format_version;
  d["shape"] = nb::make_tuple(info.shape.layers, 2, info.shape.kv_heads, info.shape.tokens,
                              info.shape.head_dim);
  d["dtype"] = std::string(DTypeName(info.dtype));
  d["codec"] = SpecDict(info.spec, "");
  d["raw_bytes"] = info.raw_bytes;
  d["block_bytes"] = info.block_bytes;
  return d;
}

std::string_view View(const nb::bytes& b) { return {b.c_str(), b.size()}; }

nb::tuple Compress(const InBuffer& data, bool bfloat16, int layout, const std::string& preset,
                   std::optional<uint32_t> bits, std::optional<uint32_t> group_size,
                   std::optional<uint32_t> rank, std::optional<float> outlier_ratio,
                   std::optional<uint32_t> power_iterations, std::optional<uint32_t> seed,
                   bool measure_error, int threads) {
  TensorView view;
  view.layout = LayoutOf(layout);
  view.shape = ShapeOf(data.ndim(), data.shape_ptr(), view.layout);
  view.dtype = DTypeOf(data.dtype(), bfloat16);
  view.data = data.data();
  auto spec = PresetSpec(preset);
  ThrowIfError(spec.status(), "compress");
  if (bits) spec->bits = static_cast<uint8_t>(*bits);
  if (group_size) spec->group_size = static_cast<uint16_t>(*group_size);
  if (rank) spec->rank = static_cast<uint16_t>(*rank);
  if (outlier_ratio) spec->outlier_ratio = *outlier_ratio;
  if (power_iterations) spec->power_iterations = static_cast<uint8_t>(*power_iterations);
  if (seed) spec->seed = *seed;
  absl::StatusOr<Block> block;
  {
    nb::gil_scoped_release release;
    block = CpuCodec().Compress(view, *spec, {.measure_error = measure_error, .threads = threads});
  }
  ThrowIfError(block.status(), "compress");
  nb::dict stats;
  stats["raw_bytes"] = block->stats.raw_bytes;
  stats["stored_bytes"] = block->stats.block_bytes;
  stats["bits_per_element"] = block->stats.bits_per_element;
  stats["ratio"] = block->stats.ratio;
  stats["relative_error"] =
      block->stats.relative_error ? nb::cast(*block->stats.relative_error) : nb::none();
  return nb::make_tuple(nb::bytes(block->bytes.data(), block->bytes.size()), stats);
}

void DecompressInto(const nb::bytes& block, const OutBuffer& out, bool bfloat16, int layout,
                    int threads) {
  MutableTensorView view;
  view.layout = LayoutOf(layout);
  view.shape = ShapeOf(out.ndim(), out.shape_ptr(), view.layout);
  view.dtype = DTypeOf(out.dtype(), bfloat16);
  view.data = out.data();
  absl::Status st;
  {
    nb::gil_scoped_release release;
    st = CpuCodec().Decompress(View(block), view, {.threads = threads});
  }
  ThrowIfError(st, "decompress");
}

nb::object Decompress(const nb::bytes& block, std::optional<std::string> dtype, int layout_value,
                      int threads) {
  const Layout layout = LayoutOf(layout_value);
  auto info = InspectBlock(View(block), {.verify_checksum = false});  // Decompress verifies
  ThrowIfError(info.status(), "decompress");
  DType out_dtype = info->dtype;
  if (dtype) {
    auto parsed = ParseDType(*dtype);
    ThrowIfError(parsed.status(), "decompress");
    out_dtype = *parsed;
  }
  MutableTensorView view{info->shape, out_dtype, nullptr, layout};
  nb::object array = NewArray(view.shape, layout, out_dtype, &view.data);
  absl::Status st;
  {
    nb::gil_scoped_release release;
    st = CpuCodec().Decompress(View(block), view, {.threads = threads});
  }
  ThrowIfError(st, "decompress");
  return array;
}

nb::dict Inspect(const nb::bytes& block, bool verify_checksum) {
  auto info = InspectBlock(View(block), {.verify_checksum = verify_checksum});
  ThrowIfError(info.status(), "inspect");
  return InfoDict(*info);
}

}  // namespace

void BindCodec(nb::module_& m) {
  using nb::arg;
  m.def("compress", &Compress, arg("data"), arg("bfloat16"), arg("layout"), arg("preset"),
        arg("bits").none(), arg("group_size").none(), arg("rank").none(),
        arg("outlier_ratio").none(), arg("power_iterations").none(), arg("seed").none(),
        arg("measure_error"), arg("threads"));
  m.def("decompress", &Decompress, arg("block"), arg("dtype").none(), arg("layout"),
        arg("threads"));
  m.def("decompress_into", &DecompressInto, arg("block"), arg("out"), arg("bfloat16"),
        arg("layout"), arg("threads"));
  m.def("inspect", &Inspect, arg("block"), arg("verify_checksum"));
  m.def(
      "preset_names",
      [] {
        nb::list names;
        for (std::string_view n : PresetNames()) names.append(nb::str(n.data(), n.size()));
        return names;
      },
      "the codec's presets, in their stable order");
}

}  // namespace gearkv::python
