// The GEAR codec: compresses a KV block (see tensor.h) into a self-describing block of bytes and
// back.
//
// Layouts: a view's `layout` (gearkv/layout.h) says in which memory order its elements lie; the
// codec reads (Compress, measure_error) and writes (Decompress, every method and dtype) any
// layout directly, a head at a time (one (layer, K|V, head) matrix is `tokens` rows of `head_dim`
// contiguous elements in every layout, at a constant row stride), in the pass that converts the
// dtype: no extra copy of the tensor. The block does not depend on the layout it was compressed
// from (its bytes equal those of the same tensor compressed in canonical order), so a block
// compressed from one layout decompresses into any other. A block cut to a layer range
// (SliceBlockLayers) decompresses into a view of the sliced shape in any layout, the layout's
// dimensions being those of that shape.
//
// GEAR, per (layer, K|V) matrix and per KV head (a tokens x head_dim matrix X):
//   1. sparse outliers S: in every pool (keys: one channel over all tokens; values: 8
//      consecutive tokens over all channels) the k largest and k smallest entries, with k
//      spread over the pools so that a fraction s of the head is kept exactly;
//   2. quantization D of the rest to `bits` bits, asymmetric min-max per group: keys per
//      channel over groups of `group_size` tokens, values per token over groups of
//      `group_size` channels (the KIVI backbone); outliers don't widen any group;
//   3. low-rank L of the residual X - S - D, rank `rank`, by a subspace iteration seeded from
//      `seed` (`power_iterations` rounds);
//   4. decompression: X^ = D + L, with the outliers of S written over their positions.
// The `none` method stores the tensor as sent (lossless). How each part is stored, and which
// format versions are read: kernels/block_format.md.
//
// Compression is deterministic: the same input, spec and format version give the same bytes on
// a given backend whatever the thread count. Blocks from any backend decompress on any other
// (the CPU and CUDA backends may differ in the last bits of the low-rank factors, since float
// sums run in a different order).
//
// Thread-safety: a Codec is immutable after construction; Compress and Decompress may be called
// concurrently from many threads.
#ifndef GEARKV_CODEC_H_
#define GEARKV_CODEC_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gearkv/tensor.h"

namespace gearkv {

enum class Method : uint8_t {
  kNone = 0,  // stored as sent
  kGear = 1,  // quantization + optional low-rank + optional sparse outliers
};

// Every parameter of a compression. Presets are named starting points; any field may be
// overridden before use. ValidateSpec says what is allowed.
struct CodecSpec {
  Method method = Method::kGear;
  uint8_t bits = 4;              // 2, 3, 4 or 8
  uint16_t group_size = 64;      // G, 1..65535
  uint16_t rank = 4;             // low-rank rank r, 0 (none) .. 64
  float outlier_ratio = 0.02f;   // s, fraction of entries kept exactly, 0 .. 0.5
  uint8_t power_iterations = 3;  // subspace iteration rounds, 1..16 (used when rank > 0)
  uint32_t seed = 0x9e3779b9u;   // seeds the subspace iteration's start

  bool operator==(const CodecSpec&) const = default;
  // "gear(bits=4, G=64, r=4, s=0.02, iters=3)" or "none".
  std::string DebugString() const;
};

// The named presets, in a stable order: none, kivi4, kivi2, gear4, gear2, gearl4, gearl2.
std::span<const std::string_view> PresetNames();
// The spec of a preset; INVALID_ARGUMENT listing the known names for an unknown one.
absl::StatusOr<CodecSpec> PresetSpec(std::string_view name);
// INVALID_ARGUMENT naming the offending field when a spec is outside its documented range.
absl::Status ValidateSpec(const CodecSpec& spec);

// What a compression did.
struct CompressStats {
  uint64_t raw_bytes = 0;       // input size
  uint64_t block_bytes = 0;     // whole block, every header, table and checksum byte included
  double bits_per_element = 0;  // 8 * block_bytes / elements
  double ratio = 0;             // raw_bytes / block_bytes
  // ||X - X^||_F / ||X||_F over the whole tensor, when CompressOptions::measure_error.
  std::optional<double> relative_error;
};

struct Block {
  std::string bytes;  // the serialized block (format: block_format.md)
  CompressStats stats;
};

// What a block says about itself (parsed from its header; see InspectBlock).
struct BlockInfo {
  uint16_t format_version = 0;
  TensorShape shape;
  DType dtype = DType::kFloat16;
  CodecSpec spec;
  uint64_t raw_bytes = 0;    // size of the decompressed tensor
  uint64_t block_bytes = 0;  // size of the block
};

struct InspectOptions {
  // false: everything but the checksum, for a caller that next passes the whole block to
  // Decompress or SliceBlockLayers, which verify it (one pass over the block instead of two).
  bool verify_checksum = true;
};

// Parses and verifies a block without decompressing it: magic, version, header fields, section
// table bounds and the checksum. DATA_LOSS for a checksum mismatch, INVALID_ARGUMENT for
// anything malformed or truncated; the message says which.
absl::StatusOr<BlockInfo> InspectBlock(std::string_view block, const InspectOptions& options = {});

// A new block holding layers [layer_begin, layer_end) of `block`, without recompressing (the
// sections are copied and a new header and checksum written). INVALID_ARGUMENT for an empty or
// out-of-range layer range.
absl::StatusOr<std::string> SliceBlockLayers(std::string_view block, uint32_t layer_begin,
                                             uint32_t layer_end);

struct CompressOptions {
  // Also decompress and report CompressStats::relative_error (costs about one decompression).
  bool measure_error = false;
  // Worker threads for one call (over layer, K|V, head). 0 = all hardware threads.
  int threads = 0;
};

struct DecompressOptions {
  int threads = 0;  // as in CompressOptions
};

enum class Backend { kAuto, kCpu, kCuda };
std::string_view BackendName(Backend backend);  // "auto", "cpu", "cuda"

class Codec {
 public:
  virtual ~Codec() = default;

  // Compresses `tensor` (in its layout) with `spec`. INVALID_ARGUMENT for a bad shape
  // (ValidateShape), a bad spec (ValidateSpec), a layout outside the enum (ValidateLayout), a
  // null pointer, or non-finite values with a lossy method.
  [[nodiscard]] virtual absl::StatusOr<Block> Compress(
      const TensorView& tensor, const CodecSpec& spec,
      const CompressOptions& options = {}) const = 0;

  // Decompresses `block` into `out`, whose shape must equal the block's and whose dtype and
  // layout may be any (values are converted, elements placed in out.layout). Errors as
  // InspectBlock, plus INVALID_ARGUMENT for a shape mismatch, a layout outside the enum or a
  // null pointer. On error `out` may be partly written.
  [[nodiscard]] virtual absl::Status Decompress(std::string_view block,
                                                const MutableTensorView& out,
                                                const DecompressOptions& options = {}) const = 0;

  // The backend that does the work (never kAuto).
  virtual Backend backend() const = 0;
};

// kCpu always works. kCuda fails with UNAVAILABLE when gearkv was built without CUDA or no
// device is usable. kAuto picks CUDA when a device is usable, else the CPU.
absl::StatusOr<std::unique_ptr<Codec>> MakeCodec(Backend backend = Backend::kAuto);

// Relative Frobenius error ||a - b|| / ||b|| between two tensors of the same shape (each in its
// own layout: elements are matched by position in the tensor), accumulated in double.
// INVALID_ARGUMENT for mismatched shapes or an invalid layout.
absl::StatusOr<double> RelativeError(const TensorView& approx, const TensorView& exact);

}  // namespace gearkv

#endif  // GEARKV_CODEC_H_
