#include "get_reactor.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/server_context.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl_compat.h"
#include "gearkv/codec.h"
#include "gearkv/get_messages.h"
#include "gearkv/status_macros.h"
#include "gearkv/wire.h"
#include "gearkv/wire_limits.h"
#include "gearkv/wire_status.h"

namespace gearkv::server {

namespace {

using wire::DescribeKey;
using wire::DTypeToWire;
using wire::kMaxChunkBytes;
using wire::MakeBlockStats;
using wire::ShapeToWire;
using wire::SpecToWire;
using wire::ToGrpcStatus;
using wire::ValidateBlockKey;

v1::GetRequest ParseRequest(const grpc::ByteBuffer& request, absl::Status* status) {
  v1::GetRequest parsed;
  grpc::ByteBuffer copy(request);  // shares the slices; Deserialize consumes its argument
  grpc::Status st = grpc::SerializationTraits<v1::GetRequest>::Deserialize(&copy, &parsed);
  if (!st.ok()) {
    *status = absl::InvalidArgumentError(
        absl::StrCat("the GetRequest does not parse: ", st.error_message()));
  }
  return parsed;
}

}  // namespace

GetReactor::GetReactor(ServiceCore& core, grpc::CallbackServerContext* context,
                       const grpc::ByteBuffer& request)
    : core_(core),
      context_(context),
      start_(absl::Now()),
      request_(ParseRequest(request, &request_status_)),
      key_{request_.namespace_(), request_.key()} {
  core_.observer->OnRpcStarted("Get");
  if (absl::Status status = ValidateRequest(); !status.ok()) {
    FinishWith(status);
    return;
  }
  // RAW needs the codec; a COMPRESSED get only touches the store.
  WorkerPool& pool = request_.encoding() == v1::ENCODING_RAW ? *core_.codec_pool : *core_.io_pool;
  if (absl::Status submitted = core_.Submit(pool, [this] { Load(); }); !submitted.ok()) {
    FinishWith(submitted);
  }
}

absl::Status GetReactor::ValidateRequest() const {
  GEARKV_RETURN_IF_ERROR(core_.CheckCall(*context_));
  GEARKV_RETURN_IF_ERROR(request_status_);
  GEARKV_RETURN_IF_ERROR(ValidateBlockKey(request_.namespace_(), request_.key()));
  if (request_.encoding() != v1::ENCODING_RAW && request_.encoding() != v1::ENCODING_COMPRESSED) {
    return absl::InvalidArgumentError(absl::StrCat("encoding ", request_.encoding(),
                                                   " is not ENCODING_RAW or ENCODING_COMPRESSED"));
  }
  if (request_.has_layers() && request_.layers().begin() >= request_.layers().end()) {
    return absl::InvalidArgumentError(absl::StrCat("layer range [", request_.layers().begin(), ", ",
                                                   request_.layers().end(), ") is empty"));
  }
  return absl::OkStatus();
}

void GetReactor::Load() {
  if (absl::Status wanted = CheckCallWanted(*context_, "Get: block not read"); !wanted.ok()) {
    FinishWith(wanted);
    return;
  }
  if (absl::Status status = LoadPayload(); !status.ok()) {
    FinishWith(status);
    return;
  }
  if (absl::Status wanted = CheckCallWanted(*context_, "Get: block read, not sent"); !wanted.ok()) {
    FinishWith(wanted);
    return;
  }
  WriteNext();
}

absl::Status GetReactor::LoadPayload() {
  const std::string who = DescribeKey(key_.ns, key_.key);
  absl::StatusOr<store::BlockBytes> stored = core_.store->Get(key_);
  if (!stored.ok()) {
    if (absl::IsNotFound(stored.status())) {
      return absl::NotFoundError(absl::StrCat("no block under ", who));
    }
    return absl::Status(stored.status().code(),
                        absl::StrCat("reading ", who, ": ", stored.status().message()));
  }
  const store::BlockBytes whole = *std::move(stored);
  // A stored block that fails verification is dropped, so that the next Put starts clean.
  auto drop_if_corrupt = [&](const absl::Status& status, std::string_view step) {
    if (!absl::IsDataLoss(status)) return status;
    (void)core_.store->Delete(key_);
    return absl::DataLossError(
        absl::StrCat(ToAbsl(step), " the block under ", who,
                     ": it failed verification and has been dropped: ", status.message()));
  };
  // The block's checksum is verified once on every path: here for a whole COMPRESSED block, by
  // SliceBlockLayers for a layer range, by Decompress for RAW.
  absl::StatusOr<BlockInfo> info = InspectBlock(*whole, {.verify_checksum = false});
  if (!info.ok()) return drop_if_corrupt(absl::DataLossError(info.status().message()), "reading");

  TensorShape shape = info->shape;
  std::string_view block = *whole;
  std::shared_ptr<const std::string> block_owner = whole;
  bool sliced = false;
  if (request_.has_layers()) {
    const uint32_t begin = request_.layers().begin();
    const uint32_t end = request_.layers().end();
    if (end > shape.layers) {
      return absl::InvalidArgumentError(absl::StrCat(
          "layer range [", begin, ", ", end, ") is outside the block's ", shape.layers, " layers"));
    }
    if (begin != 0 || end != shape.layers) {
      absl::StatusOr<std::string> slice = SliceBlockLayers(block, begin, end);
      if (!slice.ok()) return drop_if_corrupt(slice.status(), "slicing");
      block_owner = std::make_shared<const std::string>(*std::move(slice));
      block = *block_owner;
      shape.layers = end - begin;
      sliced = true;
    }
  }
  if (request_.encoding() == v1::ENCODING_COMPRESSED && !sliced) {
    if (absl::Status verified = InspectBlock(block).status(); !verified.ok()) {
      return drop_if_corrupt(verified, "reading");
    }
  }
  raw_equivalent_bytes_ = shape.NumElements() * DTypeSize(info->dtype);

  if (request_.encoding() == v1::ENCODING_COMPRESSED) {
    payload_ = block;
    payload_owner_ = std::move(block_owner);
  } else {
    GEARKV_RETURN_IF_ERROR(core_.AcquireTensorBytes(raw_equivalent_bytes_));
    budget_held_ = raw_equivalent_bytes_;
    std::shared_ptr<char[]> raw = core_.tensor_buffers->Take(raw_equivalent_bytes_);
    const MutableTensorView out{shape, info->dtype, raw.get()};
    DecompressOptions options;
    options.threads = core_.codec_threads;
    const absl::Time codec_start = absl::Now();
    absl::Status decompressed = core_.codec->Decompress(block, out, options);
    CodecRecord codec_record;
    codec_record.op = CodecOp::kDecompress;
    codec_record.backend = core_.codec->backend();
    codec_record.ok = decompressed.ok();
    codec_record.duration = absl::Now() - codec_start;
    codec_record.raw_bytes = raw_equivalent_bytes_;
    codec_record.block_bytes = block.size();
    core_.observer->OnCodecDone(codec_record);
    if (!decompressed.ok()) {
      if (absl::IsDataLoss(decompressed)) return drop_if_corrupt(decompressed, "decompressing");
      return absl::Status(decompressed.code(), absl::StrCat("decompressing the block under ", who,
                                                            ": ", decompressed.message()));
    }
    payload_ = std::string_view(raw.get(), raw_equivalent_bytes_);
    payload_owner_ = std::move(raw);
  }

  *header_.mutable_shape() = ShapeToWire(shape);
  header_.set_dtype(DTypeToWire(info->dtype));
  *header_.mutable_codec() = SpecToWire(info->spec);
  header_.set_encoding(request_.encoding());
  header_.set_payload_bytes(payload_.size());
  *header_.mutable_stats() =
      MakeBlockStats(info->raw_bytes, info->block_bytes, info->shape.NumElements());
  return absl::OkStatus();
}

void GetReactor::WriteNext() {
  if (!header_sent_) {
    header_sent_ = true;
    message_ = wire::GetHeaderMessage(header_);
    StartWrite(&message_);
    return;
  }
  if (offset_ >= payload_.size()) {  // only for an empty payload
    FinishWith(absl::OkStatus());
    return;
  }
  const size_t n = std::min<uint64_t>(kMaxChunkBytes, payload_.size() - offset_);
  message_ = wire::GetChunkMessage(payload_.substr(offset_, n), payload_owner_);
  offset_ += n;
  if (offset_ < payload_.size()) {
    StartWrite(&message_);
    return;
  }
  // The last chunk and the status in one operation: no OnWriteDone, OnDone follows.
  code_ = absl::StatusCode::kOk;
  StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
}

void GetReactor::OnWriteDone(bool ok) {
  if (!ok) {
    FinishWith(absl::CancelledError("Get stream broken (client gone or deadline passed)"));
    return;
  }
  WriteNext();
}

void GetReactor::FinishWith(const absl::Status& status) {
  code_ = status.code();
  Finish(ToGrpcStatus(status));
}

void GetReactor::OnDone() {
  // The last chunk and the OK status may still have failed to reach the client.
  if (code_ == absl::StatusCode::kOk && context_->IsCancelled()) {
    code_ = absl::StatusCode::kCancelled;
  }
  RpcRecord record;
  record.method = "Get";
  record.code = code_;
  record.latency = absl::Now() - start_;
  record.bytes_out = offset_;
  record.raw_bytes = code_ == absl::StatusCode::kOk ? raw_equivalent_bytes_ : 0;
  record.block_bytes =
      code_ == absl::StatusCode::kOk && request_.encoding() == v1::ENCODING_COMPRESSED
          ? payload_.size()
          : 0;
  core_.observer->OnRpcDone(record);
  core_.tensor_budget->Release(budget_held_);
  delete this;
}

}  // namespace gearkv::server
