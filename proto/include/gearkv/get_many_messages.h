// gearkv.v1.GetManyResponse messages as grpc::ByteBuffers, for the server's and the C++ client's
// GetMany streams. A GetManyResponse has GetResponse's header and chunk fields plus the key's
// index, which the server writes first: a key's header and chunk messages are the Get messages
// of gearkv/get_messages.h behind an index prefix, sharing their slices (no chunk is copied),
// and the client splits the prefix off and hands the rest to the same Get decoder.
// A key's status has a field of its own.
//
// Stateless; thread-safe.
#ifndef GEARKV_GET_MANY_MESSAGES_H_
#define GEARKV_GET_MANY_MESSAGES_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gearkv/v1/kv_cache.pb.h"

namespace gearkv::wire {

// GetManyResponse{index, the header or chunk of `get`}: `get` is a GetResponse message
// (GetHeaderMessage, GetChunkMessage); its slices are shared, not copied.
grpc::ByteBuffer GetManyMessage(uint32_t index, const grpc::ByteBuffer& get);

// GetManyResponse{index, status = KeyStatusToWire(status)}.
grpc::ByteBuffer GetManyStatusMessage(uint32_t index, const absl::Status& status);

// A KeyStatus and back: the canonical code (one outside gRPC's range becomes UNKNOWN) and the
// message.
v1::KeyStatus KeyStatusToWire(const absl::Status& status);
absl::Status KeyStatusFromWire(const v1::KeyStatus& status);

// One GetManyResponse taken apart: the index, and either the key's status or the message as a
// GetResponse (for DecodeGetMessage). A message with the index first (what the gearkv server
// writes) is split without copying; any other valid encoding goes through protobuf.
struct GetManyPart {
  uint32_t index = 0;
  std::optional<absl::Status> status;  // set: the key's status, `get` empty
  grpc::ByteBuffer get;
};

// INVALID_ARGUMENT when the message does not parse.
absl::StatusOr<GetManyPart> SplitGetManyMessage(const grpc::ByteBuffer& message);

}  // namespace gearkv::wire

#endif  // GEARKV_GET_MANY_MESSAGES_H_
