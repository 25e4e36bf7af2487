#include "block_format.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gearkv/status_macros.h"
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace gearkv::internal {
namespace {

// Little-endian field access (the format is little-endian; so is every host we build for).
static_assert(std::endian::native == std::endian::little, "gearkv's block format is little-endian");

template <typename T>
void Put(char* at, T value) {
  std::memcpy(at, &value, sizeof(T));
}
template <typename T>
T Get(const char* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

// Header field offsets (kernels/block_format.md).
enum HeaderField : uint64_t {
  kMagic = 0,
  kVersion = 4,
  kDType = 6,
  kMethod = 7,
  kLayers = 8,
  kKvHeads = 12,
  kTokens = 16,
  kHeadDim = 20,
  kBits = 24,
  kPowerIterations = 25,
  kGroupSize = 26,
  kRank = 28,
  kOutlierRatio = 32,
  kSeed = 36,
  kSectionCount = 40,
  kBlockBytes = 48,
};

uint64_t Checksum(const char* data, uint64_t size) { return XXH3_64bits(data, size); }

}  // namespace

absl::StatusOr<BlockGeometry> MakeBlockGeometry(const TensorShape& shape, DType dtype,
                                                const CodecSpec& spec, uint16_t version) {
  if (version < kOldestFormatVersion || version > kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported block format version ", version,
                                                   " (this build reads ", kOldestFormatVersion,
                                                   " to ", kFormatVersion, ")"));
  }
  GEARKV_RETURN_IF_ERROR(ValidateShape(shape));
  GEARKV_RETURN_IF_ERROR(ValidateSpec(spec));
  if (!IsValidDType(static_cast<uint8_t>(dtype))) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid dtype value ", static_cast<int>(dtype)));
  }
  BlockGeometry g;
  g.info.format_version = version;
  g.info.shape = shape;
  g.info.dtype = dtype;
  g.info.spec = spec;
  if (spec.method == Method::kNone) g.info.spec = CodecSpec{.method = Method::kNone};
  g.info.raw_bytes = shape.NumElements() * DTypeSize(dtype);
  g.sections = 2 * shape.layers;
  for (Kind kind : {Kind::kKeys, Kind::kValues}) {
    const int k = static_cast<int>(kind);
    if (spec.method == Method::kNone) {
      g.section_bytes[k] = AlignUp(shape.MatrixElements() * DTypeSize(dtype), kArrayAlignment);
    } else {
      g.heads[k] =
          MakeHeadLayout(kind, shape.tokens, shape.head_dim, spec.bits, spec.group_size, spec.rank,
                         spec.outlier_ratio, DTypeSize(dtype), FactorPrecisionOf(version));
      g.section_bytes[k] = g.heads[k].head_bytes * shape.kv_heads;
    }
  }
  g.data_offset =
      AlignUp(kHeaderBytes + uint64_t{g.sections} * kSectionEntryBytes, kArrayAlignment);
  g.checksum_offset =
      g.data_offset + uint64_t{shape.layers} * (g.section_bytes[0] + g.section_bytes[1]);
  g.info.block_bytes = g.checksum_offset + kChecksumBytes;
  return g;
}

CompressStats StatsOf(const BlockGeometry& g) {
  CompressStats st;
  st.raw_bytes = g.info.raw_bytes;
  st.block_bytes = g.info.block_bytes;
  st.bits_per_element = 8.0 * st.block_bytes / g.info.shape.NumElements();
  st.ratio = static_cast<double>(st.raw_bytes) / st.block_bytes;
  return st;
}

void WriteHeaderAndTable(const BlockGeometry& g, char* block) {
  std::memset(block, 0, g.data_offset);
  const CodecSpec& spec = g.info.spec;
  const TensorShape& shape = g.info.shape;
  std::memcpy(block + kMagic, kBlockMagic, 4);
  Put<uint16_t>(block + kVersion, g.info.format_version);
  Put<uint8_t>(block + kDType, static_cast<uint8_t>(g.info.dtype));
  Put<uint8_t>(block + kMethod, static_cast<uint8_t>(spec.method));
  Put<uint32_t>(block + kLayers, shape.layers);
  Put<uint32_t>(block + kKvHeads, shape.kv_heads);
  Put<uint32_t>(block + kTokens, shape.tokens);
  Put<uint32_t>(block + kHeadDim, shape.head_dim);
  Put<uint8_t>(block + kBits, spec.bits);
  Put<uint8_t>(block + kPowerIterations, spec.power_iterations);
  Put<uint16_t>(block + kGroupSize, spec.group_size);
  Put<uint16_t>(block + kRank, spec.rank);
  Put<float>(block + kOutlierRatio, spec.outlier_ratio);
  Put<uint32_t>(block + kSeed, spec.seed);
  Put<uint32_t>(block + kSectionCount, g.sections);
  Put<uint64_t>(block + kBlockBytes, g.info.block_bytes);
  for (uint32_t s = 0; s < g.sections; ++s) {
    const Kind kind = static_cast<Kind>(s % 2);
    char* entry = block + g.table_offset + s * kSectionEntryBytes;
    Put<uint64_t>(entry, g.SectionOffset(s / 2, kind));
    Put<uint64_t>(entry + 8, g.section_bytes[s % 2]);
  }
}

void WriteChecksum(const BlockGeometry& g, char* block) {
  Put<uint64_t>(block + g.checksum_offset, Checksum(block, g.checksum_offset));
}

absl::StatusOr<ParsedBlock> ParseBlock(std::string_view bytes, bool verify_checksum) {
  const char* b = bytes.data();
  if (bytes.size() < kHeaderBytes + kChecksumBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("block truncated: ", bytes.size(), " bytes is shorter than its header"));
  }
  if (std::memcmp(b + kMagic, kBlockMagic, 4) != 0) {
    return absl::InvalidArgumentError("not a gearkv block (bad magic)");
  }
  const uint16_t version = Get<uint16_t>(b + kVersion);
  if (version < kOldestFormatVersion || version > kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported block format version ", version,
                                                   " (this build reads ", kOldestFormatVersion,
                                                   " to ", kFormatVersion, ")"));
  }
  const uint64_t declared = Get<uint64_t>(b + kBlockBytes);
  if (declared != bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat("block size mismatch: header says ", declared,
                                                   " bytes, got ", bytes.size(),
                                                   declared > bytes.size() ? " (truncated)" : ""));
  }
  const uint64_t stored_sum = Get<uint64_t>(b + bytes.size() - kChecksumBytes);
  if (verify_checksum && stored_sum != Checksum(b, bytes.size() - kChecksumBytes)) {
    return absl::DataLossError("block checksum mismatch: the block is corrupted");
  }
  // The checksum matched; still trust nothing (a forged block can carry a valid checksum).
  const uint8_t dtype = Get<uint8_t>(b + kDType);
  if (!IsValidDType(dtype)) {
    return absl::InvalidArgumentError(absl::StrCat("block has an invalid dtype ", int{dtype}));
  }
  const uint8_t method = Get<uint8_t>(b + kMethod);
  if (method > static_cast<uint8_t>(Method::kGear)) {
    return absl::InvalidArgumentError(absl::StrCat("block has an unknown method ", int{method}));
  }
  TensorShape shape{Get<uint32_t>(b + kLayers), Get<uint32_t>(b + kKvHeads),
                    Get<uint32_t>(b + kTokens), Get<uint32_t>(b + kHeadDim)};
  CodecSpec spec;
  spec.method = static_cast<Method>(method);
  if (spec.method == Method::kGear) {
    spec.bits = Get<uint8_t>(b + kBits);
    spec.power_iterations = Get<uint8_t>(b + kPowerIterations);
    spec.group_size = Get<uint16_t>(b + kGroupSize);
    spec.rank = Get<uint16_t>(b + kRank);
    spec.outlier_ratio = Get<float>(b + kOutlierRatio);
    spec.seed = Get<uint32_t>(b + kSeed);
  }
  auto geometry = MakeBlockGeometry(shape, static_cast<DType>(dtype), spec, version);
  if (!geometry.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("block header is invalid: ", geometry.status().message()));
  }
  const BlockGeometry& g = *geometry;
  if (Get<uint32_t>(b + kSectionCount) != g.sections) {
    return absl::InvalidArgumentError(absl::StrCat("block declares ",
                                                   Get<uint32_t>(b + kSectionCount),
                                                   " sections, its shape needs ", g.sections));
  }
  if (g.info.block_bytes != bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "block is ", bytes.size(), " bytes but its shape and spec need ", g.info.block_bytes));
  }
  for (uint32_t s = 0; s < g.sections; ++s) {
    const char* entry = b + g.table_offset + s * kSectionEntryBytes;
    if (Get<uint64_t>(entry) != g.SectionOffset(s / 2, static_cast<Kind>(s % 2)) ||
        Get<uint64_t>(entry + 8) != g.section_bytes[s % 2]) {
      return absl::InvalidArgumentError(
          absl::StrCat("block section ", s, " lies outside the place its header gives it"));
    }
  }
  return ParsedBlock{g, bytes};
}

absl::StatusOr<ParsedBlock> ParseBlockForOutput(std::string_view bytes,
                                                const MutableTensorView& out) {
  GEARKV_ASSIGN_OR_RETURN(ParsedBlock parsed, ParseBlock(bytes));
  const TensorShape& shape = parsed.geometry.info.shape;
  if (out.shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat("output shape ", out.shape.DebugString(),
                                                   " differs from the block's ",
                                                   shape.DebugString()));
  }
  if (out.data == nullptr) return absl::InvalidArgumentError("output data pointer is null");
  if (!IsValidDType(static_cast<uint8_t>(out.dtype))) {
    return absl::InvalidArgumentError("output dtype is invalid");
  }
  GEARKV_RETURN_IF_ERROR(ValidateLayout(out.layout));
  return parsed;
}

absl::StatusOr<BlockGeometry> MakeBlockGeometryForInput(const TensorView& tensor,
                                                        const CodecSpec& spec) {
  GEARKV_RETURN_IF_ERROR(ValidateLayout(tensor.layout));
  GEARKV_ASSIGN_OR_RETURN(BlockGeometry g, MakeBlockGeometry(tensor.shape, tensor.dtype, spec));
  if (tensor.data == nullptr) return absl::InvalidArgumentError("tensor data pointer is null");
  return g;
}

}  // namespace gearkv::internal

namespace gearkv {

absl::StatusOr<BlockInfo> InspectBlock(std::string_view block, const InspectOptions& options) {
  GEARKV_ASSIGN_OR_RETURN(internal::ParsedBlock parsed,
                          internal::ParseBlock(block, options.verify_checksum));
  return parsed.geometry.info;
}

absl::StatusOr<std::string> SliceBlockLayers(std::string_view block, uint32_t layer_begin,
                                             uint32_t layer_end) {
  GEARKV_ASSIGN_OR_RETURN(internal::ParsedBlock parsed, internal::ParseBlock(block));
  const BlockInfo& info = parsed.geometry.info;
  if (layer_begin >= layer_end || layer_end > info.shape.layers) {
    return absl::InvalidArgumentError(absl::StrCat("layer range [", layer_begin, ", ", layer_end,
                                                   ") is empty or outside [0, ", info.shape.layers,
                                                   ")"));
  }
  TensorShape shape = info.shape;
  shape.layers = layer_end - layer_begin;
  GEARKV_ASSIGN_OR_RETURN(
      internal::BlockGeometry g,
      internal::MakeBlockGeometry(shape, info.dtype, info.spec, info.format_version));
  std::string out(g.info.block_bytes, '\0');
  internal::WriteHeaderAndTable(g, out.data());
  const uint64_t layer_bytes = g.section_bytes[0] + g.section_bytes[1];
  std::memcpy(out.data() + g.data_offset, parsed.Section(layer_begin, internal::Kind::kKeys),
              layer_bytes * shape.layers);
  internal::WriteChecksum(g, out.data());
  return out;
}

}  // namespace gearkv
