// gearkv.v1.GetResponse messages as grpc::ByteBuffers, for the server's and the C++ client's Get
// streams. A chunk is bytes of a block or tensor: going through the generated message would copy
// it into a protobuf string and serialize it again on the server, and parse it into a string on
// the client before it is appended to the payload. Here the server's chunk message refers to the
// payload's bytes (gRPC copies them once, into the socket) and the client copies a chunk once,
// from gRPC's slices into the payload. The bytes on the wire are the same GetResponse messages.
//
// Stateless; thread-safe.
#ifndef GEARKV_GET_MESSAGES_H_
#define GEARKV_GET_MESSAGES_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "gearkv/v1/kv_cache.pb.h"

namespace gearkv::wire {

// GetResponse{header = header}.
grpc::ByteBuffer GetHeaderMessage(const v1::GetHeader& header);

// GetResponse{chunk = bytes} without copying `bytes`: the message's slice points at them and
// holds a reference to `owner`, which must keep them alive and unchanged (gRPC may let go of the
// slice after the call is over).
grpc::ByteBuffer GetChunkMessage(std::string_view bytes, std::shared_ptr<const void> owner);

enum class GetMessageKind { kHeader, kChunk };

// Decodes one GetResponse. A header is parsed into *header; a chunk (a message without a header,
// possibly empty) is appended to *payload, unless it is longer than `max_chunk_bytes`, which is
// OUT_OF_RANGE with nothing appended. INVALID_ARGUMENT when the message does not parse.
absl::StatusOr<GetMessageKind> DecodeGetMessage(const grpc::ByteBuffer& message,
                                                v1::GetHeader* header, std::string* payload,
                                                uint64_t max_chunk_bytes);

// The same, with a chunk written at the front of `out` (memory the caller owns) and its length
// stored in *chunk_bytes (0 for a header); a chunk longer than out.size() is OUT_OF_RANGE with
// nothing written.
absl::StatusOr<GetMessageKind> DecodeGetMessage(const grpc::ByteBuffer& message,
                                                v1::GetHeader* header, absl::Span<char> out,
                                                size_t* chunk_bytes);

}  // namespace gearkv::wire

#endif  // GEARKV_GET_MESSAGES_H_
