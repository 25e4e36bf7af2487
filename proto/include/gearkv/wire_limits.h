// The limits of the wire contract (the Limit enum of proto/gearkv/v1/kv_cache.proto, which
// states them once for every language) as C++ constants, and the checks of a request's key.
// Stateless; thread-safe.
#ifndef GEARKV_WIRE_LIMITS_H_
#define GEARKV_WIRE_LIMITS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gearkv/v1/kv_cache.pb.h"

namespace gearkv::wire {

inline constexpr size_t kMaxNamespaceBytes = v1::LIMIT_MAX_NAMESPACE_BYTES;
inline constexpr size_t kMaxKeyBytes = v1::LIMIT_MAX_KEY_BYTES;
// The most keys one Lookup may ask about.
inline constexpr int kMaxLookupKeys = v1::LIMIT_MAX_LOOKUP_KEYS;
// The most keys one GetMany may ask for, and blocks one PutMany may send.
inline constexpr int kMaxBatchKeys = v1::LIMIT_MAX_BATCH_KEYS;
// The largest chunk a Put may send and a Get sends.
inline constexpr size_t kMaxChunkBytes = v1::LIMIT_MAX_CHUNK_BYTES;
// The largest message the server and the clients accept (gRPC's receive and send limits).
inline constexpr int kMaxMessageBytes = v1::LIMIT_MAX_MESSAGE_BYTES;

// INVALID_ARGUMENT naming the problem unless 1 <= key <= kMaxKeyBytes bytes and
// namespace <= kMaxNamespaceBytes bytes.
absl::Status ValidateBlockKey(std::string_view ns, std::string_view key);

// For messages: `namespace "m" key "abc"` (non-printable keys in hex, long ones shortened).
std::string DescribeKey(std::string_view ns, std::string_view key);

}  // namespace gearkv::wire

#endif  // GEARKV_WIRE_LIMITS_H_
