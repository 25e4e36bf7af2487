// Conversions between wire messages and gearkv types, and the request limits the service
// checks before doing any work.
#ifndef GEARKV_SERVER_SRC_WIRE_TYPES_H_
#define GEARKV_SERVER_SRC_WIRE_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gearkv/codec.h"
#include "gearkv/tensor.h"
#include "gearkv/v1/kv_cache.pb.h"
#include "gearkv/wire.h"

namespace gearkv::server {

inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr size_t kMaxNamespaceBytes = 256;
// The largest chunk a Put may send and a Get sends.
inline constexpr size_t kMaxChunkBytes = size_t{1} << 20;
// The most keys one Lookup may ask about.
inline constexpr int kMaxLookupKeys = 65536;

// INVALID_ARGUMENT naming the problem unless 1 <= key <= 1024 bytes and namespace <= 256 bytes.
absl::Status ValidateBlockKey(std::string_view ns, std::string_view key);

// For messages: `namespace "m" key "abc"` (non-printable keys in hex, long ones shortened).
std::string DescribeKey(std::string_view ns, std::string_view key);

// DType and shape conversions are shared with the clients (gearkv/wire.h).
using wire::DTypeFromWire;
using wire::DTypeToWire;
using wire::ShapeFromWire;
using wire::ShapeToWire;

// BlockStats of a block of `block_bytes` holding a tensor of `raw_bytes` / `elements`.
v1::BlockStats MakeBlockStats(uint64_t raw_bytes, uint64_t block_bytes, uint64_t elements);

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_WIRE_TYPES_H_
