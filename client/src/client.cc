// gearkv::Client over the gRPC sync API: one stub per Client, every call a fresh ClientContext
// with the call's deadline, retried through RunWithRetry.
#include "gearkv/client.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "batched_calls.h"
#include "gearkv/status_macros.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "gearkv/wire.h"
#include "gearkv/wire_limits.h"
#include "gearkv/wire_status.h"
#include "get_answer.h"
#include "get_many_answer.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/sync_stream.h"
#include "requests.h"
#include "retry.h"

namespace gearkv {
namespace {

using client_internal::GetAnswer;
using client_internal::TensorDestination;
using wire::FromGrpcStatus;
namespace health = grpc::health::v1;

HealthState HealthStateFromWire(health::HealthCheckResponse::ServingStatus status) {
  switch (status) {
    case health::HealthCheckResponse::SERVING:
      return HealthState::kServing;
    case health::HealthCheckResponse::NOT_SERVING:
      return HealthState::kNotServing;
    case health::HealthCheckResponse::SERVICE_UNKNOWN:
      return HealthState::kServiceUnknown;
    default:
      return HealthState::kUnknown;
  }
}

class GrpcClient final : public Client {
 public:
  GrpcClient(ClientOptions options, std::shared_ptr<grpc::Channel> channel,
             std::unique_ptr<Codec> codec)
      : options_(std::move(options)),
        channel_(std::move(channel)),
        stub_(v1::KVCache::NewStub(channel_)),
        health_stub_(health::Health::NewStub(channel_)),
        get_method_name_(absl::StrCat("/", v1::KVCache::service_full_name(), "/Get")),
        get_method_(get_method_name_.c_str(), nullptr, grpc::internal::RpcMethod::SERVER_STREAMING,
                    channel_),
        get_many_method_name_(absl::StrCat("/", v1::KVCache::service_full_name(), "/GetMany")),
        get_many_method_(get_many_method_name_.c_str(), nullptr,
                         grpc::internal::RpcMethod::SERVER_STREAMING, channel_),
        codec_(std::move(codec)) {}

  absl::StatusOr<PutResult> Put(std::string_view ns, std::string_view key, const TensorView& tensor,
                                const PutOptions& options) override;
  absl::StatusOr<GetResult> Get(std::string_view ns, std::string_view key,
                                const GetOptions& options) override;
  absl::StatusOr<GetResult> GetInto(std::string_view ns, std::string_view key,
                                    const MutableTensorView& out,
                                    const GetOptions& options) override;
  absl::StatusOr<std::vector<absl::StatusOr<GetResult>>> GetMany(
      std::string_view ns, absl::Span<const std::string> keys, const GetOptions& options) override;
  absl::StatusOr<std::vector<absl::StatusOr<GetResult>>> GetManyInto(
      std::string_view ns, absl::Span<const std::string> keys,
      absl::Span<const MutableTensorView> outs, const GetOptions& options) override;
  absl::StatusOr<std::vector<absl::StatusOr<PutResult>>> PutMany(
      std::string_view ns, absl::Span<const std::string> keys, absl::Span<const TensorView> tensors,
      const PutOptions& options) override;
  absl::StatusOr<LookupResult> Lookup(std::string_view ns, absl::Span<const std::string> keys,
                                      const CallOptions& options) override;
  absl::StatusOr<bool> Delete(std::string_view ns, std::string_view key,
                              const CallOptions& options) override;
  absl::StatusOr<ServerStats> Stats(const CallOptions& options) override;
  absl::StatusOr<HealthState> Health(std::string_view service, const CallOptions& options) override;
  const ClientOptions& options() const override { return options_; }

 private:
  absl::Time DeadlineFrom(const std::optional<absl::Duration>& d) const {
    return absl::Now() + d.value_or(options_.default_deadline);
  }
  void Prepare(grpc::ClientContext& context, absl::Time deadline) const {
    context.set_deadline(absl::ToChronoTime(deadline));
    if (!options_.auth_token.empty()) {
      context.AddMetadata("authorization", "Bearer " + options_.auth_token);
    }
  }
  absl::StatusOr<PutResult> PutOnce(const v1::PutRequest& header, const TensorView& tensor,
                                    const ProgressCallback& progress, absl::Time deadline);
  // Get and GetInto: the request, retried; each attempt a GetOnce.
  absl::StatusOr<GetResult> RunGet(std::string_view ns, std::string_view key,
                                   const GetOptions& options, const TensorDestination& destination);
  absl::StatusOr<GetResult> GetOnce(const v1::GetRequest& request, const GetOptions& options,
                                    const TensorDestination& destination, absl::Time deadline);
  // GetMany and GetManyInto: each attempt asks for the keys not answered yet.
  absl::StatusOr<std::vector<absl::StatusOr<GetResult>>> RunGetMany(
      std::string_view ns, absl::Span<const std::string> keys, const GetOptions& options,
      const std::vector<TensorDestination>& destinations);

  const ClientOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::KVCache::Stub> stub_;
  const std::unique_ptr<health::Health::Stub> health_stub_;
  // KVCache.Get with its messages left serialized; the RpcMethod keeps a pointer to the name.
  const std::string get_method_name_;
  const grpc::internal::RpcMethod get_method_;
  const std::string get_many_method_name_;  // KVCache.GetMany, serialized like Get
  const grpc::internal::RpcMethod get_many_method_;
  const std::unique_ptr<Codec> codec_;
};

absl::StatusOr<PutResult> GrpcClient::Put(std::string_view ns, std::string_view key,
                                          const TensorView& tensor, const PutOptions& options) {
  if (tensor.data == nullptr && tensor.SizeBytes() > 0) {
    return absl::InvalidArgumentError("Put: tensor data is null");
  }
  if (options.ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("Put: negative ttl");
  }
  if (absl::Status s = ValidateLayout(tensor.layout); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("Put: tensor.", s.message()));
  }
  const v1::PutRequest header = client_internal::PutHeaderRequest(ns, key, tensor, options);
  return client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline),
      [&](absl::Time deadline) { return PutOnce(header, tensor, options.progress, deadline); });
}

absl::StatusOr<PutResult> GrpcClient::PutOnce(const v1::PutRequest& header,
                                              const TensorView& tensor,
                                              const ProgressCallback& progress,
                                              absl::Time deadline) {
  grpc::ClientContext context;
  Prepare(context, deadline);
  v1::PutResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::PutRequest>> writer = stub_->Put(&context, &response);
  const size_t chunk = options_.chunk_bytes == 0 ? wire::kMaxChunkBytes : options_.chunk_bytes;
  const char* data = static_cast<const char*>(tensor.data);
  const uint64_t total = tensor.SizeBytes();
  bool ok = writer->Write(header);
  v1::PutRequest message;
  for (uint64_t offset = 0; ok && offset < total; offset += chunk) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, total - offset));
    message.mutable_chunk()->assign(data + offset, n);
    ok = writer->Write(message);
    if (ok && progress) progress(offset + n, total);
  }
  if (ok) writer->WritesDone();
  // When a Write fails the server has already answered (an error); Finish returns it.
  GEARKV_RETURN_IF_ERROR(FromGrpcStatus(writer->Finish()));
  PutResult result;
  result.cost = wire::CostFromWire(response.stats());
  result.spec = wire::SpecFromWire(response.codec());
  result.preset = response.codec().preset();
  result.backend = response.backend();
  result.wire_bytes = total;
  return result;
}

absl::StatusOr<GetResult> GrpcClient::Get(std::string_view ns, std::string_view key,
                                          const GetOptions& options) {
  if (absl::Status s = ValidateLayout(options.layout); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("Get: options.", s.message()));
  }
  return RunGet(ns, key, options, TensorDestination::Allocated(options));
}

absl::StatusOr<GetResult> GrpcClient::GetInto(std::string_view ns, std::string_view key,
                                              const MutableTensorView& out,
                                              const GetOptions& options) {
  GEARKV_RETURN_IF_ERROR(client_internal::CheckGetIntoOut("GetInto", out));
  GEARKV_RETURN_IF_ERROR(client_internal::CheckGetIntoOptions("GetInto", options));
  if (options.out_dtype && *options.out_dtype != out.dtype) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GetInto: options.out_dtype ", std::string(DTypeName(*options.out_dtype)),
        " contradicts out.dtype ", std::string(DTypeName(out.dtype)), " (leave out_dtype unset)"));
  }
  if (absl::Status s = ValidateLayout(out.layout); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("GetInto: out.", s.message()));
  }
  if (options.layout != Layout::kCanonical && options.layout != out.layout) {
    return absl::InvalidArgumentError(
        absl::StrCat("GetInto: options.layout ", std::string(LayoutName(options.layout)),
                     " contradicts out.layout ", std::string(LayoutName(out.layout)),
                     " (leave options.layout canonical)"));
  }
  GetOptions in_out_layout = options;  // outlives RunGet, which keeps references to it
  in_out_layout.layout = out.layout;
  return RunGet(ns, key, in_out_layout, TensorDestination::Caller(in_out_layout, out));
}

absl::StatusOr<GetResult> GrpcClient::RunGet(std::string_view ns, std::string_view key,
                                             const GetOptions& options,
                                             const TensorDestination& destination) {
  const v1::GetRequest request = client_internal::GetRequestFor(ns, key, options);
  return client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline),
      [&](absl::Time deadline) { return GetOnce(request, options, destination, deadline); });
}

absl::StatusOr<GetResult> GrpcClient::GetOnce(const v1::GetRequest& request,
                                              const GetOptions& options,
                                              const TensorDestination& destination,
                                              absl::Time deadline) {
  grpc::ClientContext context;
  Prepare(context, deadline);
  // The stub's Get with the messages left serialized: chunks are copied once, from gRPC's slices
  // into the payload, instead of being parsed into a GetResponse first (gearkv/get_messages.h).
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel_.get(), get_method_,
                                                                    &context, request));
  GetAnswer answer(options, destination);
  // A protocol error, or a block that cannot go to the destination: the call is cancelled.
  absl::Status stop;
  grpc::ByteBuffer message;
  while (stop.ok() && reader->Read(&message)) stop = answer.Add(message);
  if (!stop.ok()) {
    context.TryCancel();
    reader->Finish().IgnoreError();
    return stop;
  }
  GEARKV_RETURN_IF_ERROR(FromGrpcStatus(reader->Finish()));
  return answer.Finish(*codec_, options_.decompress_threads);
}

absl::StatusOr<std::vector<absl::StatusOr<GetResult>>> GrpcClient::GetMany(
    std::string_view ns, absl::Span<const std::string> keys, const GetOptions& options) {
  GEARKV_RETURN_IF_ERROR(client_internal::CheckBatchSize("GetMany", keys.size(), keys.size(), ""));
  GetOptions per_key = options;
  per_key.progress = nullptr;
  std::vector<TensorDestination> destinations;
  destinations.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    destinations.push_back(TensorDestination::Allocated(per_key));
  }
  return RunGetMany(ns, keys, per_key, destinations);
}

absl::StatusOr<std::vector<absl::StatusOr<GetResult>>> GrpcClient::GetManyInto(
    std::string_view ns, absl::Span<const std::string> keys,
    absl::Span<const MutableTensorView> outs, const GetOptions& options) {
  GEARKV_RETURN_IF_ERROR(
      client_internal::CheckBatchSize("GetManyInto", keys.size(), outs.size(), "outs"));
  GEARKV_RETURN_IF_ERROR(client_internal::CheckGetIntoOptions("GetManyInto", options));
  for (size_t i = 0; i < outs.size(); ++i) {
    if (absl::Status s = client_internal::CheckGetIntoOut("GetManyInto", outs[i]); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("outs[", i, "]: ", s.message()));
    }
    if (options.out_dtype && *options.out_dtype != outs[i].dtype) {
      return absl::InvalidArgumentError(absl::StrCat(
          "GetManyInto: options.out_dtype ", std::string(DTypeName(*options.out_dtype)),
          " contradicts outs[", i, "].dtype ", std::string(DTypeName(outs[i].dtype)),
          " (leave out_dtype unset)"));
    }
  }
  GetOptions per_key = options;
  per_key.progress = nullptr;
  std::vector<TensorDestination> destinations;
  destinations.reserve(keys.size());
  for (const MutableTensorView& out : outs) {
    destinations.push_back(TensorDestination::Caller(per_key, out));
  }
  return RunGetMany(ns, keys, per_key, destinations);
}

absl::StatusOr<std::vector<absl::StatusOr<GetResult>>> GrpcClient::RunGetMany(
    std::string_view ns, absl::Span<const std::string> keys, const GetOptions& options,
    const std::vector<TensorDestination>& destinations) {
  client_internal::GetManyAnswer answer(options, destinations, *codec_,
                                        options_.decompress_threads);
  GEARKV_RETURN_IF_ERROR(client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline), [&](absl::Time deadline) -> absl::Status {
        if (answer.done()) return absl::OkStatus();
        grpc::ClientContext context;
        Prepare(context, deadline);
        const v1::GetManyRequest request =
            client_internal::GetManyRequestFor(ns, keys, answer.pending(), options);
        return client_internal::GetManyOnce(channel_.get(), get_many_method_, context, request,
                                            answer);
      }));
  return answer.TakeResults();
}

absl::StatusOr<std::vector<absl::StatusOr<PutResult>>> GrpcClient::PutMany(
    std::string_view ns, absl::Span<const std::string> keys, absl::Span<const TensorView> tensors,
    const PutOptions& options) {
  GEARKV_RETURN_IF_ERROR(
      client_internal::CheckBatchSize("PutMany", keys.size(), tensors.size(), "tensors"));
  if (options.ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("PutMany: negative ttl");
  }
  std::vector<v1::PutRequest> headers;
  headers.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (tensors[i].data == nullptr && tensors[i].SizeBytes() > 0) {
      return absl::InvalidArgumentError(absl::StrCat("PutMany: tensors[", i, "] data is null"));
    }
    headers.push_back(client_internal::PutHeaderRequest(ns, keys[i], tensors[i], options));
  }
  const size_t chunk = options_.chunk_bytes == 0 ? wire::kMaxChunkBytes : options_.chunk_bytes;
  return client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline),
      [&](absl::Time deadline) -> absl::StatusOr<std::vector<absl::StatusOr<PutResult>>> {
        grpc::ClientContext context;
        Prepare(context, deadline);
        return client_internal::PutManyOnce(*stub_, context, headers, tensors, chunk,
                                            options.progress);
      });
}

absl::StatusOr<LookupResult> GrpcClient::Lookup(std::string_view ns,
                                                absl::Span<const std::string> keys,
                                                const CallOptions& options) {
  v1::LookupRequest request;
  request.set_namespace_(std::string(ns));
  for (const std::string& k : keys) request.add_keys(k);
  return client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline),
      [&](absl::Time deadline) -> absl::StatusOr<LookupResult> {
        grpc::ClientContext context;
        Prepare(context, deadline);
        v1::LookupResponse response;
        GEARKV_RETURN_IF_ERROR(FromGrpcStatus(stub_->Lookup(&context, request, &response)));
        if (response.exists_size() != request.keys_size()) {
          return absl::InternalError(absl::StrCat("Lookup answered ", response.exists_size(),
                                                  " flags for ", request.keys_size(), " keys"));
        }
        LookupResult result;
        result.exists.assign(response.exists().begin(), response.exists().end());
        result.prefix_hits = response.prefix_hits();
        return result;
      });
}

absl::StatusOr<bool> GrpcClient::Delete(std::string_view ns, std::string_view key,
                                        const CallOptions& options) {
  v1::DeleteRequest request;
  request.set_namespace_(std::string(ns));
  request.set_key(std::string(key));
  return client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline), [&](absl::Time deadline) -> absl::StatusOr<bool> {
        grpc::ClientContext context;
        Prepare(context, deadline);
        v1::DeleteResponse response;
        GEARKV_RETURN_IF_ERROR(FromGrpcStatus(stub_->Delete(&context, request, &response)));
        return response.deleted();
      });
}

absl::StatusOr<ServerStats> GrpcClient::Stats(const CallOptions& options) {
  return client_internal::RunWithRetry(
      options_, DeadlineFrom(options.deadline),
      [&](absl::Time deadline) -> absl::StatusOr<ServerStats> {
        grpc::ClientContext context;
        Prepare(context, deadline);
        v1::StatsResponse response;
        GEARKV_RETURN_IF_ERROR(
            FromGrpcStatus(stub_->Stats(&context, v1::StatsRequest(), &response)));
        ServerStats stats;
        stats.backend = response.backend();
        stats.version = response.version();
        for (const v1::TierStats& t : response.tiers()) {
          stats.tiers.push_back({t.tier(), t.blocks(), t.bytes(), t.capacity_bytes(), t.hits(),
                                 t.misses(), t.evictions(), t.expirations()});
        }
        return stats;
      });
}

absl::StatusOr<HealthState> GrpcClient::Health(std::string_view service,
                                               const CallOptions& options) {
  grpc::ClientContext context;
  Prepare(context, DeadlineFrom(options.deadline));
  health::HealthCheckRequest request;
  request.set_service(std::string(service));
  health::HealthCheckResponse response;
  GEARKV_RETURN_IF_ERROR(FromGrpcStatus(health_stub_->Check(&context, request, &response)));
  return HealthStateFromWire(response.status());
}

}  // namespace

std::string_view HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kServing:
      return "SERVING";
    case HealthState::kNotServing:
      return "NOT_SERVING";
    case HealthState::kServiceUnknown:
      return "SERVICE_UNKNOWN";
    case HealthState::kUnknown:
      break;
  }
  return "UNKNOWN";
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  if (options.target.empty()) return absl::InvalidArgumentError("ClientOptions: empty target");
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("ClientOptions: max_attempts must be >= 1");
  }
  if (options.chunk_bytes > wire::kMaxChunkBytes) {
    return absl::InvalidArgumentError(absl::StrCat("ClientOptions: chunk_bytes must be at most ",
                                                   wire::kMaxChunkBytes, " (0: that)"));
  }
  if (options.default_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ClientOptions: default_deadline must be positive");
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(wire::kMaxMessageBytes);
  args.SetMaxSendMessageSize(wire::kMaxMessageBytes);
  if (options.own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel =
      grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
  GEARKV_ASSIGN_OR_RETURN(std::unique_ptr<Codec> codec, MakeCodec(Backend::kCpu));
  return std::unique_ptr<Client>(
      std::make_unique<GrpcClient>(options, std::move(channel), std::move(codec)));
}

}  // namespace gearkv
