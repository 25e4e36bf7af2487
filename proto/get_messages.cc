#include "gearkv/get_messages.h"

#include <google/protobuf/io/coded_stream.h>
#include <grpcpp/support/slice.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gearkv::wire {
namespace {

using google::protobuf::io::CodedOutputStream;

// The key of GetResponse.chunk on the wire: field number, wire type 2 (length-delimited).
constexpr uint8_t kChunkKey = (v1::GetResponse::kChunkFieldNumber << 3) | 2;

// Reads the front of a message held in several slices.
class SliceReader {
 public:
  explicit SliceReader(const std::vector<grpc::Slice>& slices) : slices_(slices) {
    for (const grpc::Slice& s : slices_) remaining_ += s.size();
  }

  size_t remaining() const { return remaining_; }

  bool ReadVarint(uint64_t* value) {
    *value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t byte;
      if (!ReadByte(&byte)) return false;
      *value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // Appends everything not read yet to *out.
  void AppendRestTo(std::string* out) {
    for (; index_ < slices_.size(); ++index_, offset_ = 0) {
      const grpc::Slice& s = slices_[index_];
      out->append(reinterpret_cast<const char*>(s.begin()) + offset_, s.size() - offset_);
    }
    remaining_ = 0;
  }

  // Copies everything not read yet to `out`, which has room for remaining() bytes.
  void CopyRestTo(char* out) {
    for (; index_ < slices_.size(); ++index_, offset_ = 0) {
      const grpc::Slice& s = slices_[index_];
      const size_t n = s.size() - offset_;
      if (n > 0) std::memcpy(out, s.begin() + offset_, n);
      out += n;
    }
    remaining_ = 0;
  }

 private:
  bool ReadByte(uint8_t* byte) {
    while (index_ < slices_.size() && offset_ == slices_[index_].size()) {
      ++index_;
      offset_ = 0;
    }
    if (index_ == slices_.size()) return false;
    *byte = slices_[index_].begin()[offset_++];
    --remaining_;
    return true;
  }

  const std::vector<grpc::Slice>& slices_;
  size_t index_ = 0;
  size_t offset_ = 0;  // into slices_[index_]
  size_t remaining_ = 0;
};

void ReleaseOwner(void* owner) { delete static_cast<std::shared_ptr<const void>*>(owner); }

absl::Status ChunkTooLong(uint64_t size, uint64_t max_chunk_bytes) {
  return absl::OutOfRangeError(
      absl::StrCat("a chunk of ", size, " bytes is longer than the ", max_chunk_bytes, " allowed"));
}

}  // namespace

grpc::ByteBuffer GetHeaderMessage(const v1::GetHeader& header) {
  v1::GetResponse response;
  *response.mutable_header() = header;
  grpc::Slice slice(response.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

grpc::ByteBuffer GetChunkMessage(std::string_view bytes, std::shared_ptr<const void> owner) {
  uint8_t prefix[11];
  prefix[0] = kChunkKey;
  const size_t prefix_size =
      1 + (CodedOutputStream::WriteVarint64ToArray(bytes.size(), prefix + 1) - (prefix + 1));
  grpc::Slice slices[2] = {
      grpc::Slice(prefix, prefix_size),
      bytes.empty() ? grpc::Slice()
                    : grpc::Slice(const_cast<char*>(bytes.data()), bytes.size(), &ReleaseOwner,
                                  new std::shared_ptr<const void>(std::move(owner))),
  };
  return grpc::ByteBuffer(slices, bytes.empty() ? 1 : 2);
}

namespace {

// Where a decoded chunk goes: appended to a string, or written at the front of a span.
struct ChunkSink {
  std::string* append = nullptr;
  absl::Span<char> out;
  size_t* written = nullptr;

  uint64_t room(uint64_t max_chunk_bytes) const {
    return append != nullptr ? max_chunk_bytes : out.size();
  }
};

absl::StatusOr<GetMessageKind> Decode(const grpc::ByteBuffer& message, v1::GetHeader* header,
                                      const ChunkSink& sink, uint64_t max_chunk_bytes) {
  if (sink.written != nullptr) *sink.written = 0;
  const uint64_t room = sink.room(max_chunk_bytes);
  std::vector<grpc::Slice> slices;
  // An uninitialised buffer is an empty message.
  if (grpc::Status dumped = message.Valid() ? message.Dump(&slices) : grpc::Status::OK;
      !dumped.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unreadable GetResponse: ", dumped.error_message()));
  }
  // What the gearkv server sends for a chunk, and what protobuf writes: the chunk field alone.
  // The bytes are copied straight from the slices.
  SliceReader reader(slices);
  uint64_t key = 0, size = 0;
  if (reader.ReadVarint(&key) && key == kChunkKey && reader.ReadVarint(&size) &&
      size == reader.remaining()) {
    if (size > room) return ChunkTooLong(size, room);
    if (sink.append != nullptr) {
      reader.AppendRestTo(sink.append);
    } else {
      reader.CopyRestTo(sink.out.data());
      *sink.written = size;
    }
    return GetMessageKind::kChunk;
  }
  // Anything else (a header, or another valid encoding of a chunk) goes through protobuf.
  std::string bytes;
  bytes.reserve(message.Length());
  SliceReader(slices).AppendRestTo(&bytes);
  v1::GetResponse response;
  if (!response.ParseFromString(bytes)) {
    return absl::InvalidArgumentError("a GetResponse message does not parse");
  }
  if (response.has_header()) {
    *header = std::move(*response.mutable_header());
    return GetMessageKind::kHeader;
  }
  const std::string& chunk = response.chunk();
  if (chunk.size() > room) return ChunkTooLong(chunk.size(), room);
  if (sink.append != nullptr) {
    sink.append->append(chunk);
  } else {
    if (!chunk.empty()) std::memcpy(sink.out.data(), chunk.data(), chunk.size());
    *sink.written = chunk.size();
  }
  return GetMessageKind::kChunk;
}

}  // namespace

absl::StatusOr<GetMessageKind> DecodeGetMessage(const grpc::ByteBuffer& message,
                                                v1::GetHeader* header, std::string* payload,
                                                uint64_t max_chunk_bytes) {
  return Decode(message, header, ChunkSink{.append = payload}, max_chunk_bytes);
}

absl::StatusOr<GetMessageKind> DecodeGetMessage(const grpc::ByteBuffer& message,
                                                v1::GetHeader* header, absl::Span<char> out,
                                                size_t* chunk_bytes) {
  return Decode(message, header, ChunkSink{.out = out, .written = chunk_bytes}, 0);
}

}  // namespace gearkv::wire
