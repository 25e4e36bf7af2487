// What a Get sends, prepared without gRPC: read the stored block, inspect its header, cut it to
// the requested layers, then verify it (COMPRESSED) or decompress it (RAW), and describe the
// result in a GetHeader. GetReactor runs LoadGetPayload on a worker pool and streams the payload;
// each step is a function of its own.
//
// A stored block that fails verification at any step (DATA_LOSS) is deleted from the store, so
// that the next Put of its key starts clean. The checksum is verified once on every path: by
// SelectLayers for part of a block, by LoadGetPayload for a whole COMPRESSED block, by the
// codec's Decompress for RAW.
//
// Thread-safety: the functions share no state; the store, codec and observer they are given are
// thread-safe.
#ifndef GEARKV_SERVER_SRC_GET_PAYLOAD_H_
#define GEARKV_SERVER_SRC_GET_PAYLOAD_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gearkv/codec.h"
#include "gearkv/server/rpc_observer.h"
#include "gearkv/store/block_store.h"
#include "gearkv/v1/kv_cache.pb.h"
#include "service_core.h"

namespace gearkv::server {

// The layers [begin, end) of a block.
struct LayerRange {
  uint32_t begin = 0;
  uint32_t end = 0;
};

// INVALID_ARGUMENT naming the problem unless the request's key is valid, its encoding is RAW or
// COMPRESSED, its layout a value of the enum and its layer range (when given) is not empty.
absl::Status ValidateGetRequest(const v1::GetRequest& request);

// The block under `key`. NOT_FOUND "no block under <key>"; another error of the store keeps its
// code, its message prefixed with "reading <key>: ".
absl::StatusOr<store::BlockBytes> ReadStoredBlock(store::BlockStore& store,
                                                  const store::BlockKey& key);

// What the header of `block` says, checksum not verified; DATA_LOSS when it does not parse.
absl::StatusOr<BlockInfo> InspectStoredBlock(std::string_view block);

// A block, or a layer range of one, and the shape of the tensor it holds.
struct SelectedBlock {
  store::BlockBytes bytes;
  TensorShape shape;
  bool checksum_verified = false;
};

// `block` (which `info` describes) cut to `layers`. No range, or the range of every layer: the
// block itself, unverified. Any other range: a new block holding those layers, made by
// SliceBlockLayers, which verifies the checksum (DATA_LOSS when it fails). INVALID_ARGUMENT when
// the range ends past the block's layers.
absl::StatusOr<SelectedBlock> SelectLayers(store::BlockBytes block, const BlockInfo& info,
                                           std::optional<LayerRange> layers);

// Decompresses `block` into `out` with `codec` on `threads` threads, and tells `observer` about
// the call (a kDecompress CodecRecord, whatever the outcome). The codec's status.
absl::Status DecompressForGet(const Codec& codec, std::string_view block,
                              const MutableTensorView& out, int threads, RpcObserver& observer);

// `status` itself unless it is DATA_LOSS. For DATA_LOSS, deletes the block under `key` and
// answers DATA_LOSS "<step> the block under <key>: it failed verification and has been
// dropped: <message>".
absl::Status DropIfCorrupt(store::BlockStore& store, const store::BlockKey& key,
                           const absl::Status& status, std::string_view step);

// The GetHeader announcing `payload_bytes` of `encoding` for a tensor of `shape` from the block
// that `info` describes (the stats are the whole stored block's), its bytes in `layout` (RAW: the
// layout asked for; COMPRESSED: canonical, the block's own order).
v1::GetHeader MakeGetHeader(const BlockInfo& info, const TensorShape& shape, v1::Encoding encoding,
                            uint64_t payload_bytes, Layout layout = Layout::kCanonical);

// What one Get sends.
struct GetPayload {
  v1::GetHeader header;
  // The stored block, a layer slice of it (COMPRESSED) or the decompressed tensor (RAW), kept
  // alive by `owner`.
  std::string_view bytes;
  std::shared_ptr<const void> owner;
  // The size of the tensor `bytes` stands for (what a RAW Get of the same layers sends).
  uint64_t raw_equivalent_bytes = 0;
  // Bytes taken from core.tensor_budget for the RAW tensor; the caller gives them back once
  // `bytes` has been sent.
  uint64_t budget_held = 0;
};

// Every step above for one validated request. RAW: the tensor of the selected layers decompressed
// into the request's layout (the layout's dimensions are the sliced shape's), which the header
// echoes; COMPRESSED: the block, the header saying canonical (the request's layout is for the
// client's own decode). Errors as the steps', plus RESOURCE_EXHAUSTED when a RAW tensor does not
// fit in the tensor budget; on error nothing is held.
absl::StatusOr<GetPayload> LoadGetPayload(const ServiceCore& core, const v1::GetRequest& request);

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_GET_PAYLOAD_H_
