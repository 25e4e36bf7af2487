#include "gearkv/server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "gearkv/wire_limits.h"
#include "kv_cache_service.h"
#include "metrics_observer.h"
#include "service_core.h"
#include "store_factory.h"
#include "worker_pool.h"

namespace gearkv::server {
namespace {

// The host part of host:port ("0.0.0.0:50051" -> "0.0.0.0", "[::]:1" -> "[::]").
std::string HostOf(const std::string& address) {
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

RpcObserver& NoOpObserver() {
  static RpcObserver* const kObserver = new RpcObserver();
  return *kObserver;
}

}  // namespace

struct Server::Impl {
  ServerConfig config;
  std::unique_ptr<Codec> codec;
  std::unique_ptr<store::BlockStore> store;
  std::unique_ptr<WorkerPool> codec_pool;
  std::unique_ptr<WorkerPool> io_pool;
  std::unique_ptr<ByteBudget> tensor_budget;
  std::shared_ptr<BufferPool> tensor_buffers;
  // The Prometheus observer, when enabled. It reads the store and the pools at every scrape:
  // declared after them, so destroyed (and its /metrics exposer stopped) first.
  std::unique_ptr<RpcObserver> metrics;
  int metrics_port = 0;
  ServiceCore core;
  std::unique_ptr<KvCacheService> service;
  std::unique_ptr<grpc::Server> grpc_server;
  int port = 0;
  bool drained = false;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Drain(absl::ZeroDuration(), absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerConfig& config, ServerDeps deps) {
  GEARKV_RETURN_IF_ERROR(ValidateConfig(config));
  auto impl = std::make_unique<Impl>();
  impl->config = config;

  if (deps.codec != nullptr) {
    impl->codec = std::move(deps.codec);
  } else {
    GEARKV_ASSIGN_OR_RETURN(impl->codec, MakeCodec(config.backend));
  }
  if (deps.store != nullptr) {
    impl->store = std::move(deps.store);
  } else {
    GEARKV_ASSIGN_OR_RETURN(impl->store, MakeStore(config));
  }

  const int hardware = std::max(1u, std::thread::hardware_concurrency());
  const int workers = config.worker_threads > 0 ? config.worker_threads : hardware;
  // A call's helper threads come from the codec's one pool (ParallelFor), so a call may ask for
  // every core: alone it uses them, under load the helpers are busy and each call runs on its
  // worker thread.
  const int codec_threads = config.codec_threads > 0 ? config.codec_threads : hardware;
  impl->codec_pool = std::make_unique<WorkerPool>("codec", workers, config.worker_queue_depth);
  impl->io_pool = std::make_unique<WorkerPool>("io", config.io_threads, config.io_queue_depth);

  ServiceCore& core = impl->core;
  core.codec = impl->codec.get();
  core.store = impl->store.get();
  core.codec_pool = impl->codec_pool.get();
  core.io_pool = impl->io_pool.get();
  core.observer = deps.observer != nullptr ? deps.observer : &NoOpObserver();
  if (deps.observer == nullptr && config.metrics_port > 0) {
    GEARKV_ASSIGN_OR_RETURN(
        std::unique_ptr<MetricsObserver> metrics,
        MetricsObserver::Start(
            absl::StrCat(HostOf(config.listen_address), ":", config.metrics_port),
            impl->store.get(), *impl->codec_pool, *impl->io_pool));
    impl->metrics_port = metrics->port();
    core.observer = metrics.get();
    impl->metrics = std::move(metrics);
  }
  core.default_preset = config.default_preset;
  core.max_block_bytes = config.max_block_bytes;
  core.codec_threads = codec_threads;
  core.auth_token = config.auth_token;
  impl->tensor_budget = std::make_unique<ByteBudget>(config.max_inflight_bytes);
  core.tensor_budget = impl->tensor_budget.get();
  // Idle tensor buffers kept for reuse: an eighth of the in-flight budget (256 MiB by default).
  impl->tensor_buffers = BufferPool::Create(config.max_inflight_bytes / 8);
  core.tensor_buffers = impl->tensor_buffers.get();
  impl->service = std::make_unique<KvCacheService>(core);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address, grpc::InsecureServerCredentials(), &impl->port);
  builder.RegisterService(impl->service.get());
  // Larger messages are refused by gRPC itself (RESOURCE_EXHAUSTED). The limit is above the chunk
  // limit so that an oversized chunk reaches the service and gets its own INVALID_ARGUMENT; it
  // also bounds a Lookup request.
  builder.SetMaxReceiveMessageSize(wire::kMaxMessageBytes);
  // gRPC sets SO_REUSEPORT by default, which lets a second server bind a port already in use
  // and silently share its traffic; a taken port must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  const auto ms = [](absl::Duration d) {
    return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d), INT32_MAX));
  };
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, ms(config.max_connection_idle));
  if (config.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, ms(config.max_connection_age));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               ms(config.max_connection_age_grace));
  }
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(config.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(config.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  impl->grpc_server = builder.BuildAndStart();
  if (impl->grpc_server == nullptr || impl->port == 0) {
    if (impl->grpc_server != nullptr) impl->grpc_server->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address, " (address in use or invalid)"));
  }
  grpc::HealthCheckServiceInterface* health = impl->grpc_server->GetHealthCheckService();
  health->SetServingStatus(true);
  health->SetServingStatus(v1::KVCache::service_full_name(), true);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Drain(absl::Duration deadline, absl::Duration lame_duck) {
  Impl& impl = *impl_;
  if (impl.drained) return;
  impl.drained = true;
  impl.core.draining.store(true, std::memory_order_release);
  grpc::HealthCheckServiceInterface* health = impl.grpc_server->GetHealthCheckService();
  health->SetServingStatus(v1::KVCache::service_full_name(), false);
  health->SetServingStatus(false);
  // Lame duck: the listener still accepts, so probes read NOT_SERVING; calls in flight go on.
  absl::SleepFor(lame_duck);
  // Stops listening, lets calls in flight finish until the deadline, then cancels them; returns
  // once every call is done (their pool tasks see the cancellation and finish quickly).
  impl.grpc_server->Shutdown(absl::ToChronoTime(absl::Now() + deadline));
  impl.grpc_server->Wait();
  impl.codec_pool->Shutdown();
  impl.io_pool->Shutdown();
}

int Server::port() const { return impl_->port; }

std::string Server::address() const {
  return absl::StrCat(HostOf(impl_->config.listen_address), ":", impl_->port);
}

int Server::metrics_port() const { return impl_->metrics_port; }

std::string Server::Describe() const {
  return absl::StrCat(
      "backend ", ToAbsl(BackendName(impl_->codec->backend())), ", tiers ",
      DescribeTiers(impl_->config), ", default preset ", impl_->config.default_preset, ", ",
      impl_->codec_pool->threads(), " codec workers x ", impl_->core.codec_threads,
      " threads, queue ", impl_->codec_pool->queue_depth(),
      impl_->config.auth_token.empty() ? "" : ", token required",
      impl_->metrics_port > 0 ? absl::StrCat(", metrics on :", impl_->metrics_port, "/metrics")
                              : std::string(", no metrics"));
}

Backend Server::backend() const { return impl_->codec->backend(); }

size_t Server::codec_queue_length() const { return impl_->codec_pool->queued(); }

std::shared_ptr<grpc::Channel> Server::InProcessChannel() {
  return impl_->grpc_server->InProcessChannel(grpc::ChannelArguments());
}

}  // namespace gearkv::server
