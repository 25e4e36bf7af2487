#include "cpu/cpu_codec.h"

#include <atomic>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "block_format.h"
#include "cpu/dtype_convert.h"
#include "cpu/gear_head.h"
#include "cpu/parallel.h"
#include "gearkv/status_macros.h"

namespace gearkv::internal {
namespace {

// Lowers `slot` to `value` if smaller (records the first failing work item).
void RecordFailure(std::atomic<uint64_t>& slot, uint64_t value) {
  uint64_t seen = slot.load();
  while (value < seen && !slot.compare_exchange_weak(seen, value)) {
  }
}

constexpr uint64_t kNoFailure = std::numeric_limits<uint64_t>::max();

// Converts n elements between dtypes through a bounded fp32 buffer.
void ConvertElements(const char* src, DType from, uint64_t n, char* dst, DType to) {
  if (from == to) {
    std::memcpy(dst, src, n * DTypeSize(from));
    return;
  }
  constexpr uint64_t kChunk = 4096;
  float buf[kChunk];
  for (uint64_t i = 0; i < n; i += kChunk) {
    const uint64_t m = std::min(kChunk, n - i);
    LoadAsFloat(src + i * DTypeSize(from), from, m, buf);
    StoreFromFloat(buf, m, to, dst + i * DTypeSize(to));
  }
}

}  // namespace

absl::StatusOr<Block> CpuCodec::Compress(const TensorView& tensor, const CodecSpec& spec,
                                         const CompressOptions& options) const {
  GEARKV_ASSIGN_OR_RETURN(BlockGeometry g, MakeBlockGeometryForInput(tensor, spec));
  const TensorShape& s = tensor.shape;
  const size_t esize = DTypeSize(tensor.dtype);
  const char* in = static_cast<const char*>(tensor.data);
  const TensorPlacement place = PlacementOf(s, tensor.layout);

  Block block;
  block.bytes.resize(g.info.block_bytes);  // zero-filled: padding stays zero
  char* out = block.bytes.data();
  WriteHeaderAndTable(g, out);
  if (spec.method == Method::kNone && tensor.layout == Layout::kCanonical) {
    const uint64_t matrix_bytes = s.MatrixElements() * esize;
    ParallelFor(g.sections, options.threads, [&](uint64_t i) {
      std::memcpy(out + g.SectionOffset(i / 2, static_cast<Kind>(i % 2)), in + i * matrix_bytes,
                  matrix_bytes);
    });
  } else if (spec.method == Method::kNone) {
    // A section holds its matrix in canonical order: each head's rows gathered in turn.
    const uint64_t row_bytes = uint64_t{s.head_dim} * esize, head_bytes = s.tokens * row_bytes;
    ParallelFor(uint64_t{g.sections} * s.kv_heads, options.threads, [&](uint64_t i) {
      const uint64_t matrix = i / s.kv_heads, head = i % s.kv_heads;
      char* dst =
          out + g.SectionOffset(matrix / 2, static_cast<Kind>(matrix % 2)) + head * head_bytes;
      const HeadPlacement p = place.Head(i);
      for (uint32_t t = 0; t < s.tokens; ++t) {
        std::memcpy(dst + t * row_bytes, in + p.At(t, 0) * esize, row_bytes);
      }
    });
  } else {
    // Work item i = (layer * 2 + kind) * kv_heads + head: the canonical order of the heads.
    std::atomic<uint64_t> failed{kNoFailure};
    ParallelFor(uint64_t{g.sections} * s.kv_heads, options.threads, [&](uint64_t i) {
      const uint64_t matrix = i / s.kv_heads, head = i % s.kv_heads;
      const Kind kind = static_cast<Kind>(matrix % 2);
      const HeadLayout& layout = g.heads[matrix % 2];
      char* dst = out + g.SectionOffset(matrix / 2, kind) + head * layout.head_bytes;
      const HeadPlacement p = place.Head(i);
      if (!CompressHead(layout, spec, i, in + p.base * esize, p.row_stride, tensor.dtype, dst)) {
        RecordFailure(failed, i);
      }
    });
    if (failed != kNoFailure) {
      const uint64_t i = failed, matrix = i / s.kv_heads;
      return absl::InvalidArgumentError(absl::StrCat(
          "layer ", matrix / 2, matrix % 2 ? " V" : " K", " head ", i % s.kv_heads,
          " holds a NaN, an infinity or a value beyond fp16's range (|x| > 65504); lossy "
          "presets need finite values in that range (preset 'none' stores anything)"));
    }
  }
  WriteChecksum(g, out);

  CompressStats& st = block.stats;
  st = StatsOf(g);
  if (options.measure_error) {
    // Decoded in the input's layout, so that the two are compared element by element.
    std::vector<float> decoded(s.NumElements());
    const MutableTensorView view{s, DType::kFloat32, decoded.data(), tensor.layout};
    GEARKV_RETURN_IF_ERROR(Decompress(block.bytes, view, {.threads = options.threads}));
    GEARKV_ASSIGN_OR_RETURN(st.relative_error, RelativeError(view, tensor));
  }
  return block;
}

absl::Status CpuCodec::Decompress(std::string_view block, const MutableTensorView& out,
                                  const DecompressOptions& options) const {
  GEARKV_ASSIGN_OR_RETURN(ParsedBlock parsed, ParseBlockForOutput(block, out));
  const BlockGeometry& g = parsed.geometry;
  const TensorShape& s = g.info.shape;
  const size_t out_esize = DTypeSize(out.dtype);
  char* dst = static_cast<char*>(out.data);
  const TensorPlacement place = PlacementOf(s, out.layout);
  if (g.info.spec.method == Method::kNone && out.layout == Layout::kCanonical) {
    const uint64_t n = s.MatrixElements();
    ParallelFor(g.sections, options.threads, [&](uint64_t i) {
      ConvertElements(parsed.Section(i / 2, static_cast<Kind>(i % 2)), g.info.dtype, n,
                      dst + i * n * out_esize, out.dtype);
    });
    return absl::OkStatus();
  }
  if (g.info.spec.method == Method::kNone) {  // each head's canonical rows scattered in turn
    const uint64_t D = s.head_dim, in_esize = DTypeSize(g.info.dtype);
    ParallelFor(uint64_t{g.sections} * s.kv_heads, options.threads, [&](uint64_t i) {
      const uint64_t matrix = i / s.kv_heads, head = i % s.kv_heads;
      const char* src = parsed.Section(matrix / 2, static_cast<Kind>(matrix % 2)) +
                        head * s.tokens * D * in_esize;
      const HeadPlacement p = place.Head(i);
      for (uint32_t t = 0; t < s.tokens; ++t) {
        ConvertElements(src + t * D * in_esize, g.info.dtype, D, dst + p.At(t, 0) * out_esize,
                        out.dtype);
      }
    });
    return absl::OkStatus();
  }
  std::atomic<uint64_t> failed{kNoFailure};
  ParallelFor(uint64_t{g.sections} * s.kv_heads, options.threads, [&](uint64_t i) {
    const uint64_t matrix = i / s.kv_heads, head = i % s.kv_heads;
    const HeadLayout& layout = g.heads[matrix % 2];
    const char* src =
        parsed.Section(matrix / 2, static_cast<Kind>(matrix % 2)) + head * layout.head_bytes;
    const HeadPlacement p = place.Head(i);
    if (!DecompressHead(layout, src, g.info.dtype, dst + p.base * out_esize, p.row_stride,
                        out.dtype)) {
      RecordFailure(failed, i);
    }
  });
  if (failed != kNoFailure) {
    return absl::InvalidArgumentError(
        absl::StrCat("block is malformed: an outlier offset of head work item ", failed.load(),
                     " lies outside its pool"));
  }
  return absl::OkStatus();
}

}  // namespace gearkv::internal
