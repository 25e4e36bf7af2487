#include "batched_calls.h"

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/sync_stream.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gearkv/base/strings.h"
#include "gearkv/get_many_messages.h"
#include "gearkv/status_macros.h"
#include "gearkv/wire.h"
#include "gearkv/wire_limits.h"
#include "gearkv/wire_status.h"
#include "requests.h"

namespace gearkv::client_internal {

using wire::FromGrpcStatus;

absl::Status CheckBatchSize(std::string_view call, size_t keys, size_t others,
                            std::string_view what) {
  if (keys != others) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(call), ": ", keys, " keys and ", others,
                                                   " ", ToAbsl(what), " (one per key)"));
  }
  if (keys > static_cast<size_t>(wire::kMaxBatchKeys)) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(call), " of ", keys,
                                                   " keys is over the limit of ",
                                                   wire::kMaxBatchKeys, " (LIMIT_MAX_BATCH_KEYS)"));
  }
  return absl::OkStatus();
}

v1::GetManyRequest GetManyRequestFor(std::string_view ns, absl::Span<const std::string> keys,
                                     const std::vector<int>& pending, const GetOptions& options) {
  const v1::GetRequest get = GetRequestFor(ns, "", options);
  v1::GetManyRequest request;
  request.set_namespace_(get.namespace_());
  for (int i : pending) request.add_keys(keys[i]);
  request.set_encoding(get.encoding());
  if (get.has_layers()) *request.mutable_layers() = get.layers();
  request.set_layout(get.layout());
  return request;
}

absl::Status GetManyOnce(grpc::ChannelInterface* channel, const grpc::internal::RpcMethod& method,
                         grpc::ClientContext& context, const v1::GetManyRequest& request,
                         GetManyAnswer& answer) {
  answer.StartAttempt();
  // Messages left serialized: chunks are copied once, from gRPC's slices into their destination.
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel, method, &context,
                                                                    request));
  absl::Status stop;
  grpc::ByteBuffer message;
  while (stop.ok() && reader->Read(&message)) stop = answer.Add(message);
  if (!stop.ok()) {
    context.TryCancel();
    reader->Finish().IgnoreError();
    answer.AbortAttempt();
    return stop;
  }
  absl::Status status = FromGrpcStatus(reader->Finish());
  if (!status.ok()) {
    answer.AbortAttempt();
    return status;
  }
  return answer.EndAttempt();
}

absl::StatusOr<std::vector<absl::StatusOr<PutResult>>> PutManyOnce(
    v1::KVCache::Stub& stub, grpc::ClientContext& context,
    const std::vector<v1::PutRequest>& headers, absl::Span<const TensorView> tensors,
    size_t chunk_bytes, const ProgressCallback& progress) {
  v1::PutManyResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::PutManyRequest>> writer =
      stub.PutMany(&context, &response);
  uint64_t total = 0, done = 0;
  for (const TensorView& t : tensors) total += t.SizeBytes();
  v1::PutManyRequest message;
  bool ok = true;
  for (size_t b = 0; ok && b < tensors.size(); ++b) {
    *message.mutable_header() = headers[b].header();
    ok = writer->Write(message);
    const char* data = static_cast<const char*>(tensors[b].data);
    const uint64_t size = tensors[b].SizeBytes();
    for (uint64_t offset = 0; ok && offset < size; offset += chunk_bytes) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_bytes, size - offset));
      message.mutable_chunk()->assign(data + offset, n);
      ok = writer->Write(message);
      done += n;
      if (ok && progress) progress(done, total);
    }
  }
  if (ok) writer->WritesDone();
  // When a Write fails the server has already answered (an error); Finish returns it.
  GEARKV_RETURN_IF_ERROR(FromGrpcStatus(writer->Finish()));
  if (response.results_size() != static_cast<int>(tensors.size())) {
    return absl::InternalError(absl::StrCat("PutMany answered ", response.results_size(),
                                            " results for ", tensors.size(), " blocks"));
  }
  std::vector<absl::StatusOr<PutResult>> results;
  results.reserve(tensors.size());
  for (int b = 0; b < response.results_size(); ++b) {
    const v1::PutManyResult& r = response.results(b);
    absl::Status status = wire::KeyStatusFromWire(r.status());
    if (!status.ok()) {
      results.push_back(status);
      continue;
    }
    PutResult result;
    result.cost = wire::CostFromWire(r.stored().stats());
    result.spec = wire::SpecFromWire(r.stored().codec());
    result.preset = r.stored().codec().preset();
    result.backend = r.stored().backend();
    result.wire_bytes = tensors[b].SizeBytes();
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace gearkv::client_internal
