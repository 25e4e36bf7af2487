// One attempt of each batched call over gRPC's sync API, for GrpcClient (client.cc), which
// retries them. Internal to gearkv_client. Stateless; thread-safe.
#ifndef GEARKV_CLIENT_SRC_BATCHED_CALLS_H_
#define GEARKV_CLIENT_SRC_BATCHED_CALLS_H_

#include <grpcpp/client_context.h>
#include <grpcpp/impl/rpc_method.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "gearkv/client.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "get_many_answer.h"

namespace gearkv::client_internal {

// INVALID_ARGUMENT unless `count` keys (and as many `what`: "tensors", "outs") are at most
// LIMIT_MAX_BATCH_KEYS; `call` names the call in the message.
absl::Status CheckBatchSize(std::string_view call, size_t keys, size_t others,
                            std::string_view what);

// A GetManyRequest for `answer.pending()` of `keys`, with the options' encoding, layers and
// layout (as GetRequestFor sets them for a Get).
v1::GetManyRequest GetManyRequestFor(std::string_view ns, absl::Span<const std::string> keys,
                                     const std::vector<int>& pending, const GetOptions& options);

// One GetMany attempt on `context` (deadline and metadata set): the stream's messages into
// `answer`. The call's status; on an error the attempt is aborted in `answer`.
absl::Status GetManyOnce(grpc::ChannelInterface* channel, const grpc::internal::RpcMethod& method,
                         grpc::ClientContext& context, const v1::GetManyRequest& request,
                         GetManyAnswer& answer);

// One PutMany attempt of every block; `headers[i]` is block i's PutRequest header (made by
// PutHeaderRequest). Chunks of `chunk_bytes`.
absl::StatusOr<std::vector<absl::StatusOr<PutResult>>> PutManyOnce(
    v1::KVCache::Stub& stub, grpc::ClientContext& context,
    const std::vector<v1::PutRequest>& headers, absl::Span<const TensorView> tensors,
    size_t chunk_bytes, const ProgressCallback& progress);

}  // namespace gearkv::client_internal

#endif  // GEARKV_CLIENT_SRC_BATCHED_CALLS_H_
