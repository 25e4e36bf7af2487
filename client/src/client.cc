// gearkv::Client over the gRPC sync API: one stub per Client, every call a fresh ClientContext
// with the call's deadline, retried through RunWithRetry.
#include "gearkv/client.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gearkv/get_messages.h"
#include "gearkv/status_macros.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/sync_stream.h"
#include "health_check.h"
#include "retry.h"
#include "wire.h"

namespace gearkv {
namespace {

using client_internal::FromGrpc;

constexpr size_t kMaxChunkBytes = size_t{1} << 20;
constexpr char kGetMethod[] = "/gearkv.v1.KVCache/Get";
// A compressed block is never larger than its raw tensor plus headers; this bounds what a Get
// will allocate for a server's answer.
constexpr uint64_t kBlockSlackBytes = uint64_t{16} << 20;
// The block of a COMPRESSED get decompressed here goes into a buffer the calling thread reuses
// (no allocation and no fresh pages per Get); one of up to this size is kept between calls.
constexpr size_t kKeptBlockBufferBytes = size_t{4} << 20;

// The calling thread's buffer for blocks that are decompressed as soon as they arrive, lent to
// one Get at a time (a Get made from a progress callback gets none and allocates). The
// destructor gives a large buffer's memory back.
class BorrowedBlockBuffer {
 public:
  BorrowedBlockBuffer() : buffer_(in_use_ ? nullptr : &buffer) {
    if (buffer_ != nullptr) {
      in_use_ = true;
      buffer_->clear();
    }
  }
  ~BorrowedBlockBuffer() {
    if (buffer_ == nullptr) return;
    if (buffer_->capacity() > kKeptBlockBufferBytes) std::string().swap(*buffer_);
    in_use_ = false;
  }
  BorrowedBlockBuffer(const BorrowedBlockBuffer&) = delete;
  BorrowedBlockBuffer& operator=(const BorrowedBlockBuffer&) = delete;

  std::string* get() const { return buffer_; }  // null when the thread's buffer is in use

 private:
  static thread_local std::string buffer;
  static thread_local bool in_use_;
  std::string* const buffer_;
};
thread_local std::string BorrowedBlockBuffer::buffer;
thread_local bool BorrowedBlockBuffer::in_use_ = false;

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Where a Get's payload goes as it arrives: appended to a string (a block, or the tensor Get
// allocates), or written into memory the caller owns (GetInto's RAW), never past its end.
class PayloadSink {
 public:
  explicit PayloadSink(std::string* bytes) : bytes_(bytes) {}
  explicit PayloadSink(absl::Span<char> memory) : memory_(memory) {}

  uint64_t size() const { return bytes_ != nullptr ? bytes_->size() : written_; }
  void Reserve(uint64_t n) {
    if (bytes_ != nullptr) bytes_->reserve(n);
  }
  // Decodes one message (wire::DecodeGetMessage); a chunk longer than `max_chunk_bytes` (or
  // than the room left in the caller's memory) is OUT_OF_RANGE and goes nowhere.
  absl::StatusOr<wire::GetMessageKind> Decode(const grpc::ByteBuffer& message,
                                              v1::GetHeader* header, uint64_t max_chunk_bytes) {
    if (bytes_ != nullptr) return wire::DecodeGetMessage(message, header, bytes_, max_chunk_bytes);
    size_t n = 0;
    absl::StatusOr<wire::GetMessageKind> kind =
        wire::DecodeGetMessage(message, header, memory_.subspan(written_, max_chunk_bytes), &n);
    written_ += n;
    return kind;
  }
  // What arrived, for a string sink.
  std::string_view bytes() const { return *bytes_; }

 private:
  std::string* const bytes_ = nullptr;
  const absl::Span<char> memory_;
  uint64_t written_ = 0;
};

std::string LayersText(const GetOptions& options) {
  if (!options.layers) return "";
  return absl::StrCat(" (layers [", options.layers->first, ", ", options.layers->second,
                      ") of the stored block)");
}

// Where a Get puts the tensor: a Tensor allocated in GetResult::tensor (Get), or memory the
// caller owns (GetInto).
class TensorDestination {
 public:
  // Get: a tensor of options.out_dtype, else the stored dtype.
  static TensorDestination Allocated(const GetOptions& options) {
    return TensorDestination(options, nullptr);
  }
  // GetInto: `out` (kept by reference; it outlives the call).
  static TensorDestination Caller(const GetOptions& options, const MutableTensorView& out) {
    return TensorDestination(options, &out);
  }

  // As soon as the header arrives (`shape` has the layer range applied): INVALID_ARGUMENT
  // naming both sides when the block cannot go here.
  absl::Status Check(const TensorShape& shape, DType stored) const {
    const bool raw = options_.encoding == GetEncoding::kRaw;
    if (out_ == nullptr) {
      if (raw && options_.out_dtype && *options_.out_dtype != stored) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Get: out_dtype differs from the stored dtype (", Sv(DTypeName(*options_.out_dtype)),
            " vs ", Sv(DTypeName(stored)), "); use the COMPRESSED encoding to convert"));
      }
      return absl::OkStatus();
    }
    if (out_->shape != shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "GetInto: out.shape ", out_->shape.DebugString(), " differs from the block's shape ",
          shape.DebugString(), LayersText(options_)));
    }
    if (raw && out_->dtype != stored) {
      return absl::InvalidArgumentError(absl::StrCat(
          "GetInto: out.dtype ", Sv(DTypeName(out_->dtype)), " differs from the stored dtype ",
          Sv(DTypeName(stored)), "; kRaw cannot convert (kCompressed does)"));
    }
    return absl::OkStatus();
  }

  // Where RAW payload goes: the allocated tensor's bytes, or the caller's memory.
  PayloadSink RawSink(GetResult& result) const {
    if (out_ == nullptr) return PayloadSink(&result.tensor.data);
    return PayloadSink(absl::MakeSpan(static_cast<char*>(out_->data), out_->SizeBytes()));
  }

  // After a RAW get: describes the allocated tensor (the caller's memory needs nothing).
  void FinishRaw(GetResult& result) const {
    if (out_ != nullptr) return;
    const TensorShape& s = result.shape;
    result.tensor.dtype = result.stored_dtype;
    result.tensor.dims = {s.layers, 2, s.kv_heads, s.tokens, s.head_dim};
  }

  // Where a COMPRESSED block is decompressed: a tensor allocated in result.tensor, or `out`.
  absl::StatusOr<MutableTensorView> DecompressTarget(GetResult& result) const {
    if (out_ != nullptr) return *out_;
    result.tensor = MakeKvTensor(result.shape, options_.out_dtype.value_or(result.stored_dtype));
    return AsMutableKvView(result.tensor);
  }

 private:
  TensorDestination(const GetOptions& options, const MutableTensorView* out)
      : options_(options), out_(out) {}

  const GetOptions& options_;
  const MutableTensorView* const out_;  // null: allocated
};

class GrpcClient final : public Client {
 public:
  GrpcClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel,
             std::unique_ptr<Codec> codec)
      : options_(std::move(options)),
        channel_(std::move(channel)),
        stub_(v1::KVCache::NewStub(channel_)),
        get_method_(kGetMethod, nullptr, grpc::internal::RpcMethod::SERVER_STREAMING, channel_),
        codec_(std::move(codec)) {}

  absl::StatusOr<PutResult> Put(std::string_view ns, std::string_view key, const TensorView& tensor,
                                const PutOptions& options) override;
  absl::StatusOr<GetResult> Get(std::string_view ns, std::string_view key,
                                const GetOptions& options) override;
  absl::StatusOr<GetResult> GetInto(std::string_view ns, std::string_view key,
                                    const MutableTensorView& out,
                                    const GetOptions& options) override;
  absl::StatusOr<LookupResult> Lookup(std::string_view ns, absl::Span<const std::string> keys,
                                      const CallOptions& options) override;
  absl::StatusOr<bool> Delete(std::string_view ns, std::string_view key,
                              const CallOptions& options) override;
  absl::StatusOr<ServerStats> Stats(const CallOptions& options) override;
  absl::StatusOr<HealthState> Health(std::string_view service, const CallOptions& options) override;
  const ClientOptions& options() const override { return options_; }

 private:
  absl::Time DeadlineFrom(const std::optional<absl::Duration>& d) const {
    return absl::Now() + d.value_or(options_.default_deadline);
  }
  void Prepare(grpc::ClientContext& context, absl::Time deadline) const {
    context.set_deadline(absl::ToChronoTime(deadline));
    if (!options_.auth_token.empty()) {
      context.AddMetadata("authorization", "Bearer " + options_.auth_token);
    }
  }
  absl::StatusOr<PutResult> PutOnce(const v1::PutRequest& header, const TensorView& tensor,
                                    const ProgressCallback& progress, absl::Time deadline);
  // Get and GetInto: the request, retried; each attempt a GetOnce.
  absl::StatusOr<GetResult> RunGet(std::string_view ns, std::string_view key,
                                   const GetOptions& options, const TensorDestination& destination);
  absl::StatusOr<GetResult> GetOnce(const v1::GetRequest& request, const GetOptions& options,
                                    const TensorDestination& destination, absl::Time deadline);

  const ClientOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::KVCache::Stub> stub_;
  const grpc::internal::RpcMethod get_method_;  // KVCache.Get, read as serialized messages
  const std::unique_ptr<Codec> codec_;
};

absl::StatusOr<PutResult> GrpcClient::Put(std::string_view ns, std::string_view key,
                                          const TensorView& tensor, const PutOptions& options) {
  if (tensor.data == nullptr && tensor.SizeBytes() > 0) {
    return absl::InvalidArgumentError("Put: tensor data is null");
  }
  if (options.ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("Put: negative ttl");
  }
  v1::PutRequest header;
  v1::PutHeader* h = header.mutable_header();
  h->set_namespace_(std::string(ns));
  h->set_key(std::string(key));
  *h->mutable_shape() = client_internal::ShapeToWire(tensor.shape);
  h->set_dtype(client_internal::DTypeToWire(tensor.dtype));
  client_internal::CodecRequestToWire(options.codec, h->mutable_codec());
  if (options.ttl > absl::ZeroDuration()) {
    // Round up so that a sub-second TTL still expires rather than meaning "never".
    h->set_ttl_seconds(static_cast<uint32_t>(std::min<int64_t>(
        absl::ToInt64Seconds(absl::Ceil(options.ttl, absl::Seconds(1))), UINT32_MAX)));
  }
  h->set_measure_error(options.measure_error);
  return client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline),
      [&](absl::Time deadline) { return PutOnce(header, tensor, options.progress, deadline); });
}

absl::StatusOr<PutResult> GrpcClient::PutOnce(const v1::PutRequest& header,
                                              const TensorView& tensor,
                                              const ProgressCallback& progress,
                                              absl::Time deadline) {
  grpc::ClientContext context;
  Prepare(context, deadline);
  v1::PutResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::PutRequest>> writer = stub_->Put(&context, &response);
  const size_t chunk = std::clamp<size_t>(options_.chunk_bytes, 1, kMaxChunkBytes);
  const char* data = static_cast<const char*>(tensor.data);
  const uint64_t total = tensor.SizeBytes();
  bool ok = writer->Write(header);
  v1::PutRequest message;
  for (uint64_t offset = 0; ok && offset < total; offset += chunk) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, total - offset));
    message.mutable_chunk()->assign(data + offset, n);
    ok = writer->Write(message);
    if (ok && progress) progress(offset + n, total);
  }
  if (ok) writer->WritesDone();
  // When a Write fails the server has already answered (an error); Finish returns it.
  GEARKV_RETURN_IF_ERROR(FromGrpc(writer->Finish()));
  PutResult result;
  result.cost = client_internal::CostFromWire(response.stats());
  result.spec = client_internal::SpecFromWire(response.codec());
  result.preset = response.codec().preset();
  result.backend = response.backend();
  result.wire_bytes = total;
  return result;
}

absl::StatusOr<GetResult> GrpcClient::Get(std::string_view ns, std::string_view key,
                                          const GetOptions& options) {
  return RunGet(ns, key, options, TensorDestination::Allocated(options));
}

absl::StatusOr<GetResult> GrpcClient::GetInto(std::string_view ns, std::string_view key,
                                              const MutableTensorView& out,
                                              const GetOptions& options) {
  if (out.data == nullptr && out.SizeBytes() > 0) {
    return absl::InvalidArgumentError("GetInto: out.data is null");
  }
  if (absl::Status s = ValidateShape(out.shape); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("GetInto: out.shape: ", s.message()));
  }
  if (!options.decompress) {
    return absl::InvalidArgumentError(
        "GetInto: options.decompress must be true (GetInto always writes the tensor into out)");
  }
  if (options.out_dtype && *options.out_dtype != out.dtype) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GetInto: options.out_dtype ", Sv(DTypeName(*options.out_dtype)), " contradicts out.dtype ",
        Sv(DTypeName(out.dtype)), " (leave out_dtype unset)"));
  }
  return RunGet(ns, key, options, TensorDestination::Caller(options, out));
}

absl::StatusOr<GetResult> GrpcClient::RunGet(std::string_view ns, std::string_view key,
                                             const GetOptions& options,
                                             const TensorDestination& destination) {
  v1::GetRequest request;
  request.set_namespace_(std::string(ns));
  request.set_key(std::string(key));
  request.set_encoding(options.encoding == GetEncoding::kRaw ? v1::ENCODING_RAW
                                                             : v1::ENCODING_COMPRESSED);
  if (options.layers) {
    request.mutable_layers()->set_begin(options.layers->first);
    request.mutable_layers()->set_end(options.layers->second);
  }
  return client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline),
      [&](absl::Time deadline) { return GetOnce(request, options, destination, deadline); });
}

absl::StatusOr<GetResult> GrpcClient::GetOnce(const v1::GetRequest& request,
                                              const GetOptions& options,
                                              const TensorDestination& destination,
                                              absl::Time deadline) {
  grpc::ClientContext context;
  Prepare(context, deadline);
  // The stub's Get with the messages left serialized: chunks are copied once, from gRPC's slices
  // into the payload, instead of being parsed into a GetResponse first (gearkv/get_messages.h).
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel_.get(), get_method_,
                                                                    &context, request));
  GetResult result;
  result.encoding = options.encoding;
  const bool raw = options.encoding == GetEncoding::kRaw;
  // Where the payload goes: the tensor's bytes (RAW: allocated, or the caller's memory) or the
  // block (COMPRESSED; the thread's buffer when it is decompressed here).
  std::optional<BorrowedBlockBuffer> block_buffer;
  if (!raw && options.decompress) block_buffer.emplace();
  PayloadSink payload =
      raw ? destination.RawSink(result)
          : PayloadSink(block_buffer && block_buffer->get() != nullptr ? block_buffer->get()
                                                                       : &result.block);
  uint64_t expected = 0;
  bool have_header = false;
  // A protocol error, or a block that cannot go to the destination: the call is cancelled.
  absl::Status stop;
  grpc::ByteBuffer message;
  v1::GetHeader h;
  while (stop.ok() && reader->Read(&message)) {
    // Before the header nothing may come but the header; after it, chunks up to `expected`.
    absl::StatusOr<wire::GetMessageKind> kind =
        payload.Decode(message, &h, have_header ? expected - payload.size() : 0);
    if (!kind.ok()) {
      stop = absl::IsOutOfRange(kind.status())
                 ? absl::InternalError(!have_header
                                           ? "server sent a Get chunk before the header"
                                           : absl::StrCat("server sent more than the ", expected,
                                                          " payload bytes it announced"))
                 : absl::InternalError(
                       absl::StrCat("server sent a bad Get message: ", kind.status().message()));
      break;
    }
    if (*kind == wire::GetMessageKind::kHeader) {
      if (have_header) {
        stop = absl::InternalError("server sent a second Get header");
        break;
      }
      have_header = true;
      result.shape = client_internal::ShapeFromWire(h.shape());
      auto dtype = client_internal::DTypeFromWire(h.dtype());
      if (!dtype.ok()) {
        stop = dtype.status();
        break;
      }
      result.stored_dtype = *dtype;
      result.spec = client_internal::SpecFromWire(h.codec());
      result.preset = h.codec().preset();
      result.cost = client_internal::CostFromWire(h.stats());
      expected = h.payload_bytes();
      const uint64_t raw_size = result.shape.NumElements() * DTypeSize(result.stored_dtype);
      if (absl::Status s = ValidateShape(result.shape); !s.ok()) {
        stop = absl::InternalError(absl::StrCat("server sent a bad shape: ", s.message()));
      } else if (raw && expected != raw_size) {
        stop = absl::InternalError(absl::StrCat(
            "server announced ", expected, " RAW bytes for ", result.shape.DebugString(), " (",
            Sv(DTypeName(result.stored_dtype)), "), expected ", raw_size));
      } else if (!raw && expected > raw_size + kBlockSlackBytes) {
        stop = absl::InternalError(absl::StrCat("server announced a ", expected,
                                                "-byte block for a ", raw_size, "-byte tensor"));
      } else if (absl::Status fits = destination.Check(result.shape, result.stored_dtype);
                 !fits.ok()) {
        stop = std::move(fits);
      } else {
        payload.Reserve(expected);
      }
      continue;
    }
    if (!have_header) {
      // Only an empty chunk gets here (max 0 bytes); still out of order.
      stop = absl::InternalError("server sent a Get chunk before the header");
    } else if (options.progress) {
      options.progress(payload.size(), expected);
    }
  }
  if (!stop.ok()) {
    context.TryCancel();
    reader->Finish().IgnoreError();
    return stop;
  }
  GEARKV_RETURN_IF_ERROR(FromGrpc(reader->Finish()));
  if (!have_header) return absl::InternalError("server ended the Get without a header");
  if (payload.size() != expected) {
    return absl::InternalError(absl::StrCat("server sent ", payload.size(), " of the ", expected,
                                            " payload bytes it announced"));
  }
  result.wire_bytes = expected;
  if (raw) {
    destination.FinishRaw(result);
    return result;
  }
  if (!options.decompress) return result;
  GEARKV_ASSIGN_OR_RETURN(MutableTensorView out, destination.DecompressTarget(result));
  DecompressOptions decompress_options;
  decompress_options.threads = options_.decompress_threads;
  if (absl::Status st = codec_->Decompress(payload.bytes(), out, decompress_options); !st.ok()) {
    return absl::Status(st.code(),
                        absl::StrCat("decompressing the block the server sent: ", st.message()));
  }
  result.block.clear();
  result.block.shrink_to_fit();
  return result;
}

absl::StatusOr<LookupResult> GrpcClient::Lookup(std::string_view ns,
                                                absl::Span<const std::string> keys,
                                                const CallOptions& options) {
  v1::LookupRequest request;
  request.set_namespace_(std::string(ns));
  for (const std::string& k : keys) request.add_keys(k);
  return client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline),
      [&](absl::Time deadline) -> absl::StatusOr<LookupResult> {
        grpc::ClientContext context;
        Prepare(context, deadline);
        v1::LookupResponse response;
        GEARKV_RETURN_IF_ERROR(FromGrpc(stub_->Lookup(&context, request, &response)));
        if (response.exists_size() != request.keys_size()) {
          return absl::InternalError(absl::StrCat("Lookup answered ", response.exists_size(),
                                                  " flags for ", request.keys_size(), " keys"));
        }
        LookupResult result;
        result.exists.assign(response.exists().begin(), response.exists().end());
        result.prefix_hits = response.prefix_hits();
        return result;
      });
}

absl::StatusOr<bool> GrpcClient::Delete(std::string_view ns, std::string_view key,
                                        const CallOptions& options) {
  v1::DeleteRequest request;
  request.set_namespace_(std::string(ns));
  request.set_key(std::string(key));
  return client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline), [&](absl::Time deadline) -> absl::StatusOr<bool> {
        grpc::ClientContext context;
        Prepare(context, deadline);
        v1::DeleteResponse response;
        GEARKV_RETURN_IF_ERROR(FromGrpc(stub_->Delete(&context, request, &response)));
        return response.deleted();
      });
}

absl::StatusOr<ServerStats> GrpcClient::Stats(const CallOptions& options) {
  return client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline),
      [&](absl::Time deadline) -> absl::StatusOr<ServerStats> {
        grpc::ClientContext context;
        Prepare(context, deadline);
        v1::StatsResponse response;
        GEARKV_RETURN_IF_ERROR(FromGrpc(stub_->Stats(&context, v1::StatsRequest(), &response)));
        ServerStats stats;
        stats.backend = response.backend();
        stats.version = response.version();
        for (const v1::TierStats& t : response.tiers()) {
          stats.tiers.push_back({t.tier(), t.blocks(), t.bytes(), t.capacity_bytes(), t.hits(),
                                 t.misses(), t.evictions(), t.expirations()});
        }
        return stats;
      });
}

absl::StatusOr<HealthState> GrpcClient::Health(std::string_view service,
                                               const CallOptions& options) {
  grpc::ClientContext context;
  Prepare(context, DeadlineFrom(options.deadline));
  return client_internal::CheckHealth(channel_, &context, service);
}

}  // namespace

std::string_view HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kServing:
      return "SERVING";
    case HealthState::kNotServing:
      return "NOT_SERVING";
    case HealthState::kServiceUnknown:
      return "SERVICE_UNKNOWN";
    case HealthState::kUnknown:
      break;
  }
  return "UNKNOWN";
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  if (options.target.empty()) return absl::InvalidArgumentError("ClientOptions: empty target");
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("ClientOptions: max_attempts must be >= 1");
  }
  if (options.chunk_bytes < 1 || options.chunk_bytes > kMaxChunkBytes) {
    return absl::InvalidArgumentError("ClientOptions: chunk_bytes must be in 1 .. 1 MiB");
  }
  if (options.default_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ClientOptions: default_deadline must be positive");
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  args.SetMaxSendMessageSize(16 << 20);
  if (options.own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel =
      grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
  GEARKV_ASSIGN_OR_RETURN(std::unique_ptr<Codec> codec, MakeCodec(Backend::kCpu));
  return std::unique_ptr<Client>(
      std::make_unique<GrpcClient>(options, std::move(channel), std::move(codec)));
}

}  // namespace gearkv
