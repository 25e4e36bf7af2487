#include "put_block.h"

#include <cstring>
#include <memory>
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
using wire::DTypeFromWire;
using wire::kMaxChunkBytes;
using wire::LayoutFromWire;
using wire::MakeBlockStats;
using wire::ShapeFromWire;
using wire::SpecToWire;
using wire::ValidateBlockKey;

absl::Status PutBlock::AcceptHeader(const v1::PutHeader& header) {
  GEARKV_RETURN_IF_ERROR(ValidateBlockKey(header.namespace_(), header.key()));
  GEARKV_ASSIGN_OR_RETURN(dtype_, DTypeFromWire(header.dtype()));
  GEARKV_ASSIGN_OR_RETURN(layout_, LayoutFromWire(header.layout()));  // of the chunks
  shape_ = ShapeFromWire(header.shape());
  if (absl::Status shape = ValidateShape(shape_); !shape.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("shape: ", shape.message()));
  }
  GEARKV_ASSIGN_OR_RETURN(spec_, ResolveSpec(header.codec(), core_.default_preset));
  preset_ = header.codec().preset().empty() ? core_.default_preset : header.codec().preset();
  expected_bytes_ = shape_.NumElements() * DTypeSize(dtype_);
  if (expected_bytes_ > core_.max_block_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("block of ", expected_bytes_, " bytes (", shape_.DebugString(), " ",
                     ToAbsl(DTypeName(dtype_)), ") is over the server's limit of ",
                     core_.max_block_bytes, " bytes (--max_block_bytes)"));
  }
  // Refuse before the client sends the tensor when the codec pool is already full.
  if (core_.codec_pool->Saturated()) {
    core_.observer->OnPoolRejected(core_.codec_pool->name());
    return absl::ResourceExhaustedError(
        absl::StrCat(core_.codec_pool->name(), " pool saturated (", core_.codec_pool->threads(),
                     " workers busy, ", core_.codec_pool->queue_depth(), " queued); retry later"));
  }
  GEARKV_RETURN_IF_ERROR(core_.AcquireTensorBytes(expected_bytes_));
  budget_held_ = expected_bytes_;
  key_ = store::BlockKey{header.namespace_(), header.key()};
  ttl_seconds_ = header.ttl_seconds();
  measure_error_ = header.measure_error();
  tensor_ = core_.tensor_buffers->Take(expected_bytes_);
  return absl::OkStatus();
}

absl::Status PutBlock::AcceptChunk(std::string_view chunk) {
  if (chunk.size() > kMaxChunkBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chunk of ", chunk.size(), " bytes is over the 1 MiB (", kMaxChunkBytes, " bytes) limit"));
  }
  if (received_bytes_ + chunk.size() > expected_bytes_) {
    return absl::InvalidArgumentError(
        absl::StrCat("more bytes than the header declares: ", received_bytes_ + chunk.size(),
                     " bytes received so far, the shape ", shape_.DebugString(), " ",
                     ToAbsl(DTypeName(dtype_)), " has ", expected_bytes_));
  }
  if (!chunk.empty()) std::memcpy(tensor_.get() + received_bytes_, chunk.data(), chunk.size());
  received_bytes_ += chunk.size();
  return absl::OkStatus();
}

absl::Status PutBlock::CheckComplete() const {
  if (complete()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "fewer bytes than the header declares: the stream ended after ", received_bytes_, " of the ",
      expected_bytes_, " bytes of ", shape_.DebugString(), " ", ToAbsl(DTypeName(dtype_))));
}

absl::Status PutBlock::CompressAndStore(const grpc::CallbackServerContext& context,
                                        std::string_view method, v1::PutResponse* response) {
  GEARKV_RETURN_IF_ERROR(
      CheckCallWanted(context, absl::StrCat(ToAbsl(method), " not compressed, nothing stored")));
  CompressOptions options;
  options.measure_error = measure_error_;
  options.threads = core_.codec_threads;
  const TensorView view{shape_, dtype_, tensor_.get(), layout_};  // compressed as it lies
  const absl::Time codec_start = absl::Now();
  absl::StatusOr<Block> block = core_.codec->Compress(view, spec_, options);

  CodecRecord codec_record;
  codec_record.op = CodecOp::kCompress;
  codec_record.backend = core_.codec->backend();
  codec_record.ok = block.ok();
  codec_record.duration = absl::Now() - codec_start;
  codec_record.raw_bytes = expected_bytes_;
  if (block.ok()) {
    codec_record.block_bytes = block->bytes.size();
    codec_record.relative_error = block->stats.relative_error;
  }
  core_.observer->OnCodecDone(codec_record);

  ReleaseTensor();  // the raw tensor is no longer needed
  if (!block.ok()) {
    return absl::Status(block.status().code(),
                        absl::StrCat("cannot compress ", DescribeKey(key_.ns, key_.key), ": ",
                                     block.status().message()));
  }
  GEARKV_RETURN_IF_ERROR(
      CheckCallWanted(context, absl::StrCat(ToAbsl(method), " compressed but not stored")));
  const uint64_t block_bytes = block->bytes.size();
  const CompressStats stats = block->stats;
  auto bytes = std::make_shared<const std::string>(std::move(block->bytes));
  const absl::Time expires_at =
      ttl_seconds_ == 0 ? absl::InfiniteFuture() : absl::Now() + absl::Seconds(ttl_seconds_);
  if (absl::Status stored = core_.store->Put(key_, std::move(bytes), expires_at); !stored.ok()) {
    return absl::Status(stored.code(), absl::StrCat("cannot store ", DescribeKey(key_.ns, key_.key),
                                                    ": ", stored.message()));
  }
  block_bytes_ = block_bytes;
  *response->mutable_stats() = MakeBlockStats(expected_bytes_, block_bytes_, shape_.NumElements());
  relative_error_ = stats.relative_error;
  if (stats.relative_error.has_value()) {
    response->mutable_stats()->set_relative_error(*stats.relative_error);
  }
  *response->mutable_codec() = SpecToWire(spec_);
  response->set_backend(std::string(BackendName(core_.codec->backend())));
  return absl::OkStatus();
}

void PutBlock::ReleaseTensor() {
  tensor_.reset();
  core_.tensor_budget->Release(budget_held_);
  budget_held_ = 0;
}

}  // namespace gearkv::server
