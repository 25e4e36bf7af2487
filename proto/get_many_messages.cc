#include "gearkv/get_many_messages.h"

#include <google/protobuf/io/coded_stream.h>
#include <grpcpp/support/slice.h>

#include <string>
#include <utility>
#include <vector>

namespace gearkv::wire {
namespace {

using google::protobuf::io::CodedOutputStream;

// The keys of GetManyResponse's fields on the wire: field number << 3 | wire type.
constexpr uint64_t kIndexKey = (v1::GetManyResponse::kIndexFieldNumber << 3) | 0;  // varint
constexpr uint64_t kStatusKey = (v1::GetManyResponse::kStatusFieldNumber << 3) | 2;

// The front of a message held in several slices.
class Cursor {
 public:
  explicit Cursor(std::vector<grpc::Slice> slices) : slices_(std::move(slices)) {}

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

  // The next byte, not consumed; false at the end.
  bool Peek(uint8_t* byte) {
    SkipEmpty();
    if (index_ == slices_.size()) return false;
    *byte = slices_[index_].begin()[offset_];
    return true;
  }

  // What is not read yet, its slices shared.
  grpc::ByteBuffer Rest() {
    SkipEmpty();
    std::vector<grpc::Slice> rest;
    for (size_t i = index_; i < slices_.size(); ++i) {
      const grpc::Slice& s = slices_[i];
      rest.push_back(i == index_ && offset_ > 0 ? s.sub(offset_, s.size()) : s);
    }
    return rest.empty() ? grpc::ByteBuffer() : grpc::ByteBuffer(rest.data(), rest.size());
  }

 private:
  void SkipEmpty() {
    while (index_ < slices_.size() && offset_ == slices_[index_].size()) {
      ++index_;
      offset_ = 0;
    }
  }
  bool ReadByte(uint8_t* byte) {
    if (!Peek(byte)) return false;
    ++offset_;
    return true;
  }

  std::vector<grpc::Slice> slices_;
  size_t index_ = 0;
  size_t offset_ = 0;
};

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!buffer.Valid() || !buffer.Dump(&slices).ok()) return bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return bytes;
}

grpc::ByteBuffer Prefixed(uint32_t index, std::vector<grpc::Slice> body) {
  uint8_t prefix[6];
  prefix[0] = static_cast<uint8_t>(kIndexKey);
  const size_t n = 1 + (CodedOutputStream::WriteVarint64ToArray(index, prefix + 1) - (prefix + 1));
  body.insert(body.begin(), grpc::Slice(prefix, n));
  return grpc::ByteBuffer(body.data(), body.size());
}

}  // namespace

grpc::ByteBuffer GetManyMessage(uint32_t index, const grpc::ByteBuffer& get) {
  std::vector<grpc::Slice> slices;
  if (get.Valid()) (void)get.Dump(&slices);
  return Prefixed(index, std::move(slices));
}

v1::KeyStatus KeyStatusToWire(const absl::Status& status) {
  v1::KeyStatus wire;
  const int code = static_cast<int>(status.code());
  wire.set_code(code >= 0 && code <= 16 ? code : static_cast<int>(absl::StatusCode::kUnknown));
  wire.set_message(std::string(status.message()));
  return wire;
}

absl::Status KeyStatusFromWire(const v1::KeyStatus& status) {
  const int code = status.code();
  if (code == 0) return absl::OkStatus();
  return absl::Status(
      code > 0 && code <= 16 ? static_cast<absl::StatusCode>(code) : absl::StatusCode::kUnknown,
      status.message());
}

grpc::ByteBuffer GetManyStatusMessage(uint32_t index, const absl::Status& status) {
  v1::GetManyResponse response;
  *response.mutable_status() = KeyStatusToWire(status);
  grpc::Slice body(response.SerializeAsString());
  std::vector<grpc::Slice> slices;
  slices.push_back(std::move(body));
  return Prefixed(index, std::move(slices));
}

absl::StatusOr<GetManyPart> SplitGetManyMessage(const grpc::ByteBuffer& message) {
  std::vector<grpc::Slice> slices;
  if (message.Valid()) {
    if (grpc::Status dumped = message.Dump(&slices); !dumped.ok()) {
      return absl::InvalidArgumentError("unreadable GetManyResponse: " + dumped.error_message());
    }
  }
  Cursor cursor(std::move(slices));
  uint64_t key = 0, index = 0;
  uint8_t next = 0;
  if (cursor.ReadVarint(&key) && key == kIndexKey && cursor.ReadVarint(&index) &&
      index <= UINT32_MAX) {
    GetManyPart part;
    part.index = static_cast<uint32_t>(index);
    if (!cursor.Peek(&next) || next != kStatusKey) {
      // The header or chunk, as a GetResponse; one that does not parse is left to its decoder.
      part.get = cursor.Rest();
      return part;
    }
    v1::GetManyResponse status_only;
    if (!status_only.ParseFromString(Flatten(cursor.Rest())) || !status_only.has_status()) {
      return absl::InvalidArgumentError("a GetManyResponse status does not parse");
    }
    part.status = KeyStatusFromWire(status_only.status());
    return part;
  }
  // Another encoding (e.g. the index after the payload, or index 0 left out).
  v1::GetManyResponse response;
  if (!response.ParseFromString(Flatten(message))) {
    return absl::InvalidArgumentError("a GetManyResponse message does not parse");
  }
  GetManyPart part;
  part.index = response.index();
  if (response.has_status()) {
    part.status = KeyStatusFromWire(response.status());
    return part;
  }
  v1::GetResponse get;
  if (response.has_header()) {
    *get.mutable_header() = std::move(*response.mutable_header());
  } else {
    get.set_chunk(std::move(*response.mutable_chunk()));
  }
  grpc::Slice body(get.SerializeAsString());
  part.get = grpc::ByteBuffer(&body, 1);
  return part;
}

}  // namespace gearkv::wire
