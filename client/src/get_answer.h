// The client's side of one Get answer, in three steps that need no gRPC call: inspect the header
// (InspectGetHeader), lay the chunks into the payload (GetAnswer::Add), decompress a COMPRESSED
// block (DecompressBlock, from GetAnswer::Finish). GrpcClient::GetOnce feeds a GetAnswer the
// messages of its stream; the tests feed it messages made with gearkv/get_messages.h.
// Internal to gearkv_client. Not thread-safe; one per attempt.
#ifndef GEARKV_CLIENT_SRC_GET_ANSWER_H_
#define GEARKV_CLIENT_SRC_GET_ANSWER_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "gearkv/client.h"
#include "gearkv/codec.h"
#include "gearkv/get_messages.h"
#include "gearkv/v1/kv_cache.pb.h"

namespace gearkv::client_internal {

// A compressed block is never larger than its raw tensor plus headers; this bounds what a Get
// will allocate for a server's answer.
inline constexpr uint64_t kBlockSlackBytes = uint64_t{16} << 20;

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
                                              v1::GetHeader* header, uint64_t max_chunk_bytes);
  // What arrived, for a string sink.
  std::string_view bytes() const { return *bytes_; }

 private:
  std::string* const bytes_ = nullptr;
  const absl::Span<char> memory_;
  uint64_t written_ = 0;
};

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
  absl::Status Check(const TensorShape& shape, DType stored) const;
  // Where RAW payload goes: the allocated tensor's bytes, or the caller's memory.
  PayloadSink RawSink(GetResult& result) const;
  // After a RAW get: describes the allocated tensor (the caller's memory needs nothing).
  void FinishRaw(GetResult& result) const;
  // Where a COMPRESSED block is decompressed: a tensor allocated in result.tensor, or `out`.
  absl::StatusOr<MutableTensorView> DecompressTarget(GetResult& result) const;

 private:
  TensorDestination(const GetOptions& options, const MutableTensorView* out)
      : options_(options), out_(out) {}

  const GetOptions& options_;
  const MutableTensorView* const out_;  // null: allocated
};

// The calling thread's buffer for blocks that are decompressed as soon as they arrive, lent to
// one Get at a time (a Get made from a progress callback gets none and allocates). The
// destructor gives a large buffer's memory back.
class BorrowedBlockBuffer {
 public:
  // Borrows the thread's buffer when `wanted` and it is not lent already.
  explicit BorrowedBlockBuffer(bool wanted);
  ~BorrowedBlockBuffer();
  BorrowedBlockBuffer(const BorrowedBlockBuffer&) = delete;
  BorrowedBlockBuffer& operator=(const BorrowedBlockBuffer&) = delete;

  std::string* get() const { return buffer_; }  // null when not borrowed

 private:
  std::string* const buffer_;
};

// Inspect: the header of an answer to a Get with `options`, read into *result (shape,
// stored_dtype, spec, preset, cost) and checked. Returns the payload bytes it announces.
// INTERNAL when the server's header is wrong (a bad dtype or shape, a RAW size other than the
// tensor's, a block larger than kBlockSlackBytes over its tensor); `destination`'s
// INVALID_ARGUMENT when the block cannot go there.
absl::StatusOr<uint64_t> InspectGetHeader(const v1::GetHeader& header, const GetOptions& options,
                                          const TensorDestination& destination, GetResult* result);

// Decompress: `block` (as the server sent it) into `out` with `threads` threads
// (DecompressOptions::threads); the codec's error, its message saying it was the server's block.
absl::Status DecompressBlock(const Codec& codec, std::string_view block,
                             const MutableTensorView& out, int threads);

// One attempt's answer: the messages of the stream go to Add in order, then Finish.
class GetAnswer {
 public:
  // `options` and `destination` outlive the GetAnswer.
  GetAnswer(const GetOptions& options, const TensorDestination& destination);
  GetAnswer(const GetAnswer&) = delete;
  GetAnswer& operator=(const GetAnswer&) = delete;

  // The next message: the header first (InspectGetHeader), then chunks appended to the payload
  // up to the size announced, with options.progress called after each. An error (INTERNAL for
  // a protocol error, or the destination's INVALID_ARGUMENT) means the call must be cancelled.
  absl::Status Add(const grpc::ByteBuffer& message);

  // After the stream ended with OK: INTERNAL when no header came or fewer bytes than announced;
  // else the result, with a COMPRESSED block decompressed into the destination (unless
  // options.decompress is false) by `codec`.
  absl::StatusOr<GetResult> Finish(const Codec& codec, int decompress_threads);

 private:
  PayloadSink MakeSink();

  const GetOptions& options_;
  const TensorDestination& destination_;
  const bool raw_;
  GetResult result_;
  // COMPRESSED and decompressed here: the block goes into the thread's buffer when it is free.
  BorrowedBlockBuffer block_buffer_;
  PayloadSink payload_;
  v1::GetHeader header_;
  bool have_header_ = false;
  uint64_t expected_ = 0;
};

}  // namespace gearkv::client_internal

#endif  // GEARKV_CLIENT_SRC_GET_ANSWER_H_
