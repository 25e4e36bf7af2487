#include "get_answer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "gearkv/status_macros.h"
#include "gearkv/tensor_file.h"
#include "gearkv/wire.h"

namespace gearkv::client_internal {
namespace {

// The block buffer kept between calls is at most this large.
constexpr size_t kKeptBlockBufferBytes = size_t{4} << 20;

thread_local std::string thread_block_buffer;
thread_local bool thread_block_buffer_lent = false;

std::string LayersText(const GetOptions& options) {
  if (!options.layers) return "";
  return absl::StrCat(" (layers [", options.layers->first, ", ", options.layers->second,
                      ") of the stored block)");
}

}  // namespace

absl::StatusOr<wire::GetMessageKind> PayloadSink::Decode(const grpc::ByteBuffer& message,
                                                         v1::GetHeader* header,
                                                         uint64_t max_chunk_bytes) {
  if (bytes_ != nullptr) return wire::DecodeGetMessage(message, header, bytes_, max_chunk_bytes);
  size_t n = 0;
  absl::StatusOr<wire::GetMessageKind> kind =
      wire::DecodeGetMessage(message, header, memory_.subspan(written_, max_chunk_bytes), &n);
  written_ += n;
  return kind;
}

absl::Status TensorDestination::Check(const TensorShape& shape, DType stored) const {
  const bool raw = options_.encoding == GetEncoding::kRaw;
  if (out_ == nullptr) {
    if (raw && options_.out_dtype && *options_.out_dtype != stored) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Get: out_dtype differs from the stored dtype (",
          std::string(DTypeName(*options_.out_dtype)), " vs ", std::string(DTypeName(stored)),
          "); use the COMPRESSED encoding to convert"));
    }
    return absl::OkStatus();
  }
  if (out_->shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat("GetInto: out.shape ", out_->shape.DebugString(),
                                                   " differs from the block's shape ",
                                                   shape.DebugString(), LayersText(options_)));
  }
  if (raw && out_->dtype != stored) {
    return absl::InvalidArgumentError(
        absl::StrCat("GetInto: out.dtype ", std::string(DTypeName(out_->dtype)),
                     " differs from the stored dtype ", std::string(DTypeName(stored)),
                     "; kRaw cannot convert (kCompressed does)"));
  }
  return absl::OkStatus();
}

PayloadSink TensorDestination::RawSink(GetResult& result) const {
  if (out_ == nullptr) return PayloadSink(&result.tensor.data);
  return PayloadSink(absl::MakeSpan(static_cast<char*>(out_->data), out_->SizeBytes()));
}

void TensorDestination::FinishRaw(GetResult& result) const {
  result.layout = options_.layout;
  if (out_ != nullptr) return;
  const TensorShape& s = result.shape;
  result.tensor.dtype = result.stored_dtype;
  result.tensor.dims = {s.layers, 2, s.kv_heads, s.tokens, s.head_dim};
}

absl::StatusOr<MutableTensorView> TensorDestination::DecompressTarget(GetResult& result) const {
  result.layout = options_.layout;
  if (out_ != nullptr) return *out_;
  result.tensor = MakeKvTensor(result.shape, options_.out_dtype.value_or(result.stored_dtype));
  GEARKV_ASSIGN_OR_RETURN(MutableTensorView view, AsMutableKvView(result.tensor));
  view.layout = options_.layout;  // the dims stay the TensorShape's; the bytes are in the layout
  return view;
}

BorrowedBlockBuffer::BorrowedBlockBuffer(bool wanted)
    : buffer_(wanted && !thread_block_buffer_lent ? &thread_block_buffer : nullptr) {
  if (buffer_ == nullptr) return;
  thread_block_buffer_lent = true;
  buffer_->clear();
}

BorrowedBlockBuffer::~BorrowedBlockBuffer() {
  if (buffer_ == nullptr) return;
  if (buffer_->capacity() > kKeptBlockBufferBytes) std::string().swap(*buffer_);
  thread_block_buffer_lent = false;
}

absl::StatusOr<uint64_t> InspectGetHeader(const v1::GetHeader& header, const GetOptions& options,
                                          const TensorDestination& destination, GetResult* result) {
  result->shape = wire::ShapeFromWire(header.shape());
  absl::StatusOr<DType> dtype = wire::DTypeFromWire(header.dtype());
  if (!dtype.ok()) {
    return absl::InternalError(
        absl::StrCat("the server answered with a bad dtype: ", dtype.status().message()));
  }
  result->stored_dtype = *dtype;
  result->spec = wire::SpecFromWire(header.codec());
  result->preset = header.codec().preset();
  result->cost = wire::CostFromWire(header.stats());
  const uint64_t announced = header.payload_bytes();
  // RAW: the bytes in the layout asked for; COMPRESSED: a canonical block (decoded here).
  const Layout expected_layout =
      options.encoding == GetEncoding::kRaw ? options.layout : Layout::kCanonical;
  if (header.layout() != static_cast<int>(wire::LayoutToWire(expected_layout))) {
    return absl::InternalError(absl::StrCat("server answered in layout ", header.layout(),
                                            ", expected ", wire::LayoutToWire(expected_layout),
                                            " (", std::string(LayoutName(expected_layout)),
                                            "); a server without layouts?"));
  }
  if (absl::Status s = ValidateShape(result->shape); !s.ok()) {
    return absl::InternalError(absl::StrCat("server sent a bad shape: ", s.message()));
  }
  const uint64_t raw_size = result->shape.NumElements() * DTypeSize(result->stored_dtype);
  if (options.encoding == GetEncoding::kRaw && announced != raw_size) {
    return absl::InternalError(
        absl::StrCat("server announced ", announced, " RAW bytes for ", result->shape.DebugString(),
                     " (", std::string(DTypeName(result->stored_dtype)), "), expected ", raw_size));
  }
  if (options.encoding == GetEncoding::kCompressed && announced > raw_size + kBlockSlackBytes) {
    return absl::InternalError(absl::StrCat("server announced a ", announced, "-byte block for a ",
                                            raw_size, "-byte tensor"));
  }
  GEARKV_RETURN_IF_ERROR(destination.Check(result->shape, result->stored_dtype));
  return announced;
}

absl::Status DecompressBlock(const Codec& codec, std::string_view block,
                             const MutableTensorView& out, int threads) {
  DecompressOptions options;
  options.threads = threads;
  if (absl::Status st = codec.Decompress(block, out, options); !st.ok()) {
    return absl::Status(st.code(),
                        absl::StrCat("decompressing the block the server sent: ", st.message()));
  }
  return absl::OkStatus();
}

GetAnswer::GetAnswer(const GetOptions& options, const TensorDestination& destination)
    : options_(options),
      destination_(destination),
      raw_(options.encoding == GetEncoding::kRaw),
      block_buffer_(!raw_ && options.decompress),
      payload_(MakeSink()) {
  result_.encoding = options.encoding;
}

PayloadSink GetAnswer::MakeSink() {
  if (raw_) return destination_.RawSink(result_);
  return PayloadSink(block_buffer_.get() != nullptr ? block_buffer_.get() : &result_.block);
}

absl::Status GetAnswer::Add(const grpc::ByteBuffer& message) {
  // Before the header nothing may come but the header; after it, chunks up to `expected_`.
  absl::StatusOr<wire::GetMessageKind> kind =
      payload_.Decode(message, &header_, have_header_ ? expected_ - payload_.size() : 0);
  if (!kind.ok()) {
    if (!absl::IsOutOfRange(kind.status())) {
      return absl::InternalError(
          absl::StrCat("server sent a bad Get message: ", kind.status().message()));
    }
    return absl::InternalError(!have_header_ ? "server sent a Get chunk before the header"
                                             : absl::StrCat("server sent more than the ", expected_,
                                                            " payload bytes it announced"));
  }
  if (*kind == wire::GetMessageKind::kHeader) {
    if (have_header_) return absl::InternalError("server sent a second Get header");
    have_header_ = true;
    GEARKV_ASSIGN_OR_RETURN(expected_, InspectGetHeader(header_, options_, destination_, &result_));
    payload_.Reserve(expected_);
    return absl::OkStatus();
  }
  // Only an empty chunk gets here before the header (it fits in 0 bytes); still out of order.
  if (!have_header_) return absl::InternalError("server sent a Get chunk before the header");
  if (options_.progress) options_.progress(payload_.size(), expected_);
  return absl::OkStatus();
}

absl::StatusOr<GetResult> GetAnswer::Finish(const Codec& codec, int decompress_threads) {
  if (!have_header_) return absl::InternalError("server ended the Get without a header");
  if (payload_.size() != expected_) {
    return absl::InternalError(absl::StrCat("server sent ", payload_.size(), " of the ", expected_,
                                            " payload bytes it announced"));
  }
  result_.wire_bytes = expected_;
  if (raw_) {
    destination_.FinishRaw(result_);
    return std::move(result_);
  }
  if (!options_.decompress) return std::move(result_);
  GEARKV_ASSIGN_OR_RETURN(MutableTensorView out, destination_.DecompressTarget(result_));
  GEARKV_RETURN_IF_ERROR(DecompressBlock(codec, payload_.bytes(), out, decompress_threads));
  result_.block.clear();
  result_.block.shrink_to_fit();
  return std::move(result_);
}

}  // namespace gearkv::client_internal
