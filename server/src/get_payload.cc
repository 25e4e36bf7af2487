#include "get_payload.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"
#include "gearkv/wire.h"
#include "gearkv/wire_limits.h"
#include "spec_resolution.h"

namespace gearkv::server {

using wire::DescribeKey;
using wire::DTypeToWire;
using wire::MakeBlockStats;
using wire::ShapeToWire;
using wire::SpecToWire;
using wire::ValidateBlockKey;

absl::Status ValidateGetRequest(const v1::GetRequest& request) {
  GEARKV_RETURN_IF_ERROR(ValidateBlockKey(request.namespace_(), request.key()));
  if (request.encoding() != v1::ENCODING_RAW && request.encoding() != v1::ENCODING_COMPRESSED) {
    return absl::InvalidArgumentError(absl::StrCat("encoding ", request.encoding(),
                                                   " is not ENCODING_RAW or ENCODING_COMPRESSED"));
  }
  GEARKV_RETURN_IF_ERROR(wire::LayoutFromWire(request.layout()).status());
  if (request.has_layers() && request.layers().begin() >= request.layers().end()) {
    return absl::InvalidArgumentError(absl::StrCat("layer range [", request.layers().begin(), ", ",
                                                   request.layers().end(), ") is empty"));
  }
  return absl::OkStatus();
}

absl::StatusOr<store::BlockBytes> ReadStoredBlock(store::BlockStore& store,
                                                  const store::BlockKey& key) {
  absl::StatusOr<store::BlockBytes> stored = store.Get(key);
  if (stored.ok()) return stored;
  const std::string who = DescribeKey(key.ns, key.key);
  if (absl::IsNotFound(stored.status())) {
    return absl::NotFoundError(absl::StrCat("no block under ", who));
  }
  return absl::Status(stored.status().code(),
                      absl::StrCat("reading ", who, ": ", stored.status().message()));
}

absl::StatusOr<BlockInfo> InspectStoredBlock(std::string_view block) {
  absl::StatusOr<BlockInfo> info = InspectBlock(block, {.verify_checksum = false});
  if (!info.ok()) return absl::DataLossError(info.status().message());
  return info;
}

absl::StatusOr<SelectedBlock> SelectLayers(store::BlockBytes block, const BlockInfo& info,
                                           std::optional<LayerRange> layers) {
  SelectedBlock selected{std::move(block), info.shape, /*checksum_verified=*/false};
  if (!layers.has_value()) return selected;
  if (layers->end > info.shape.layers) {
    return absl::InvalidArgumentError(absl::StrCat("layer range [", layers->begin, ", ",
                                                   layers->end, ") is outside the block's ",
                                                   info.shape.layers, " layers"));
  }
  if (layers->begin == 0 && layers->end == info.shape.layers) return selected;
  GEARKV_ASSIGN_OR_RETURN(std::string slice,
                          SliceBlockLayers(*selected.bytes, layers->begin, layers->end));
  selected.bytes = std::make_shared<const std::string>(std::move(slice));
  selected.shape.layers = layers->end - layers->begin;
  selected.checksum_verified = true;
  return selected;
}

absl::Status DecompressForGet(const Codec& codec, std::string_view block,
                              const MutableTensorView& out, int threads, RpcObserver& observer) {
  DecompressOptions options;
  options.threads = threads;
  const absl::Time start = absl::Now();
  absl::Status decompressed = codec.Decompress(block, out, options);
  CodecRecord record;
  record.op = CodecOp::kDecompress;
  record.backend = codec.backend();
  record.ok = decompressed.ok();
  record.duration = absl::Now() - start;
  record.raw_bytes = out.SizeBytes();
  record.block_bytes = block.size();
  observer.OnCodecDone(record);
  return decompressed;
}

absl::Status DropIfCorrupt(store::BlockStore& store, const store::BlockKey& key,
                           const absl::Status& status, std::string_view step) {
  if (!absl::IsDataLoss(status)) return status;
  (void)store.Delete(key);
  return absl::DataLossError(
      absl::StrCat(ToAbsl(step), " the block under ", DescribeKey(key.ns, key.key),
                   ": it failed verification and has been dropped: ", status.message()));
}

v1::GetHeader MakeGetHeader(const BlockInfo& info, const TensorShape& shape, v1::Encoding encoding,
                            uint64_t payload_bytes, Layout layout) {
  v1::GetHeader header;
  *header.mutable_shape() = ShapeToWire(shape);
  header.set_dtype(DTypeToWire(info.dtype));
  *header.mutable_codec() = SpecToWire(info.spec);
  header.set_encoding(encoding);
  header.set_payload_bytes(payload_bytes);
  header.set_layout(wire::LayoutToWire(layout));
  *header.mutable_stats() =
      MakeBlockStats(info.raw_bytes, info.block_bytes, info.shape.NumElements());
  return header;
}

absl::StatusOr<GetPayload> LoadGetPayload(const ServiceCore& core, const v1::GetRequest& request) {
  const store::BlockKey key{request.namespace_(), request.key()};
  auto drop_if_corrupt = [&](const absl::Status& status, std::string_view step) {
    return DropIfCorrupt(*core.store, key, status, step);
  };
  GEARKV_ASSIGN_OR_RETURN(store::BlockBytes whole, ReadStoredBlock(*core.store, key));
  absl::StatusOr<BlockInfo> info = InspectStoredBlock(*whole);
  if (!info.ok()) return drop_if_corrupt(info.status(), "reading");
  std::optional<LayerRange> layers;
  if (request.has_layers()) layers = LayerRange{request.layers().begin(), request.layers().end()};
  absl::StatusOr<SelectedBlock> selected = SelectLayers(std::move(whole), *info, layers);
  if (!selected.ok()) return drop_if_corrupt(selected.status(), "slicing");

  // Checked by ValidateGetRequest; checked again here so that no caller can skip it.
  GEARKV_ASSIGN_OR_RETURN(const Layout layout, wire::LayoutFromWire(request.layout()));
  GetPayload payload;
  payload.raw_equivalent_bytes = selected->shape.NumElements() * DTypeSize(info->dtype);
  if (request.encoding() == v1::ENCODING_COMPRESSED) {
    if (!selected->checksum_verified) {
      absl::Status verified = InspectBlock(*selected->bytes).status();
      if (!verified.ok()) return drop_if_corrupt(verified, "reading");
    }
    payload.bytes = *selected->bytes;
    payload.owner = std::move(selected->bytes);
  } else {
    GEARKV_RETURN_IF_ERROR(core.AcquireTensorBytes(payload.raw_equivalent_bytes));
    std::shared_ptr<char[]> raw = core.tensor_buffers->Take(payload.raw_equivalent_bytes);
    absl::Status decompressed = DecompressForGet(*core.codec, *selected->bytes,
                                                 {selected->shape, info->dtype, raw.get(), layout},
                                                 core.codec_threads, *core.observer);
    if (!decompressed.ok()) {
      core.tensor_budget->Release(payload.raw_equivalent_bytes);
      if (absl::IsDataLoss(decompressed)) return drop_if_corrupt(decompressed, "decompressing");
      return absl::Status(decompressed.code(),
                          absl::StrCat("decompressing the block under ",
                                       DescribeKey(key.ns, key.key), ": ", decompressed.message()));
    }
    payload.budget_held = payload.raw_equivalent_bytes;
    payload.bytes = std::string_view(raw.get(), payload.raw_equivalent_bytes);
    payload.owner = std::move(raw);
  }
  const bool is_raw = request.encoding() == v1::ENCODING_RAW;
  payload.header = MakeGetHeader(*info, selected->shape, request.encoding(), payload.bytes.size(),
                                 is_raw ? layout : Layout::kCanonical);
  return payload;
}

}  // namespace gearkv::server
