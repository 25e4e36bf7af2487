// The serialized block: its constants, layout arithmetic, header writing and the bounds-checked
// parser. The format itself (every field, array and version) is kernels/block_format.md; this
// header and gear_math.h's MakeHeadLayout implement it and do not restate it.
#ifndef GEARKV_KERNELS_BLOCK_FORMAT_H_
#define GEARKV_KERNELS_BLOCK_FORMAT_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "gear_math.h"
#include "gearkv/codec.h"
#include "tensor_layout.h"

namespace gearkv::internal {

inline constexpr char kBlockMagic[4] = {'G', 'K', 'V', 'B'};
// The version Compress writes; ParseBlock reads kOldestFormatVersion .. kFormatVersion
// (block_format.md, Versioning).
inline constexpr uint16_t kFormatVersion = 2;
inline constexpr uint16_t kOldestFormatVersion = 1;
inline constexpr uint64_t kHeaderBytes = 64;
inline constexpr uint64_t kSectionEntryBytes = 16;  // u64 offset, u64 bytes
inline constexpr uint64_t kChecksumBytes = 8;       // XXH3-64 of every byte before it

// Where everything of a block lies; derived from (shape, dtype, spec) alone.
struct BlockGeometry {
  BlockInfo info;
  uint32_t sections = 0;        // 2 * layers, ordered (layer, K|V)
  uint64_t section_bytes[2]{};  // bytes of one K section and of one V section
  HeadLayout heads[2];          // per kind, for Method::kGear
  uint64_t table_offset = kHeaderBytes;
  uint64_t data_offset = 0;      // first section, aligned to kArrayAlignment
  uint64_t checksum_offset = 0;  // == info.block_bytes - kChecksumBytes

  uint64_t SectionOffset(uint32_t layer, Kind kind) const {
    return data_offset + uint64_t{layer} * (section_bytes[0] + section_bytes[1]) +
           (kind == Kind::kValues ? section_bytes[0] : 0);
  }
};

// How the low-rank factors of a block of format `version` are stored.
inline FactorPrecision FactorPrecisionOf(uint16_t version) {
  return version == 1 ? FactorPrecision::kFp16 : FactorPrecision::kInt8;
}

// Validates shape, dtype and spec and computes the geometry of a block of format `version`
// (kOldestFormatVersion .. kFormatVersion; INVALID_ARGUMENT otherwise).
absl::StatusOr<BlockGeometry> MakeBlockGeometry(const TensorShape& shape, DType dtype,
                                                const CodecSpec& spec,
                                                uint16_t version = kFormatVersion);

// MakeBlockGeometry for compressing `tensor` (the current version), after checking its layout
// (ValidateLayout) and data pointer: what every backend's Compress starts with.
absl::StatusOr<BlockGeometry> MakeBlockGeometryForInput(const TensorView& tensor,
                                                        const CodecSpec& spec);

// Where the heads of a tensor of `shape` lie in `layout` (tensor_layout.h).
inline TensorPlacement PlacementOf(const TensorShape& shape, Layout layout) {
  return {layout, shape.layers, shape.kv_heads, shape.tokens, shape.head_dim};
}

// Sizes of a block with this geometry (relative_error unset).
CompressStats StatsOf(const BlockGeometry& geometry);

// Writes header (version geometry.info.format_version) and section table into
// block[0, data_offset) (the padding up to data_offset is zeroed).
void WriteHeaderAndTable(const BlockGeometry& geometry, char* block);

// Computes and stores the trailing checksum over block[0, checksum_offset).
void WriteChecksum(const BlockGeometry& geometry, char* block);

// A verified block: every field checked, the checksum matched, every section in bounds.
struct ParsedBlock {
  BlockGeometry geometry;
  std::string_view bytes;

  const char* Section(uint32_t layer, Kind kind) const {
    return bytes.data() + geometry.SectionOffset(layer, kind);
  }
};

// verify_checksum false: every check but the checksum's (InspectOptions::verify_checksum).
absl::StatusOr<ParsedBlock> ParseBlock(std::string_view bytes, bool verify_checksum = true);

// ParseBlock, then checks that `out` can receive the block: same shape, a valid dtype and
// layout, a data pointer (INVALID_ARGUMENT naming the problem). What every backend's Decompress
// starts with.
absl::StatusOr<ParsedBlock> ParseBlockForOutput(std::string_view bytes,
                                                const MutableTensorView& out);

}  // namespace gearkv::internal

#endif  // GEARKV_KERNELS_BLOCK_FORMAT_H_
