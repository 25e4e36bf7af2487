// The request messages of the client's calls, made from its API types. Stateless; thread-safe.
// Internal to gearkv_client.
#ifndef GEARKV_CLIENT_SRC_REQUESTS_H_
#define GEARKV_CLIENT_SRC_REQUESTS_H_

#include <string_view>

#include "absl/status/status.h"
#include "gearkv/client.h"
#include "gearkv/v1/kv_cache.pb.h"

namespace gearkv::client_internal {

// The preset and every override that is set; unset overrides stay unset on the wire.
void CodecRequestToWire(const CodecRequest& request, v1::CodecSpec* wire);

// The first message of a Put of `tensor` (in tensor.layout) under (ns, key). A TTL is rounded up to
// whole seconds (a sub-second TTL still expires) and capped at UINT32_MAX seconds; zero or less is
// none.
v1::PutRequest PutHeaderRequest(std::string_view ns, std::string_view key, const TensorView& tensor,
                                const PutOptions& options);

// GetInto's checks of `out` before any RPC: INVALID_ARGUMENT "<call>: out.data is null" /
// "<call>: out.shape: ..." naming the problem.
absl::Status CheckGetIntoOut(std::string_view call, const MutableTensorView& out);
// INVALID_ARGUMENT unless options.decompress (a GetInto always writes the tensor).
absl::Status CheckGetIntoOptions(std::string_view call, const GetOptions& options);

// kRaw asks for options.layout (the server decodes into it); kCompressed leaves the layout unset
// (the block is canonical; the client decodes it into options.layout).
v1::GetRequest GetRequestFor(std::string_view ns, std::string_view key, const GetOptions& options);

}  // namespace gearkv::client_internal

#endif  // GEARKV_CLIENT_SRC_REQUESTS_H_
