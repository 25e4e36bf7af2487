// The gearkv gRPC server: the KVCache service, the grpc.health.v1 health service and server
// reflection on one listening port, with the codec, the store tiers and the worker pools behind
// them.
//
// Lifecycle: Start (build everything, listen; health SERVING) -> Drain (health NOT_SERVING, new
// calls refused with UNAVAILABLE, a lame-duck period with the listener open, in-flight calls finish
// up to a deadline and are cancelled after it, pools drained) -> destruction. Start and Drain are
// called from one thread (main); the service itself is fully concurrent.
#ifndef GEARKV_SERVER_SERVER_H_
#define GEARKV_SERVER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gearkv/codec.h"
#include "gearkv/server/config.h"
#include "gearkv/server/rpc_observer.h"
#include "gearkv/store/block_store.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace gearkv::server {

// What Start builds from the config unless given (tests inject a fake store or codec).
struct ServerDeps {
  std::unique_ptr<Codec> codec;              // null: MakeCodec(config.backend)
  std::unique_ptr<store::BlockStore> store;  // null: MakeStore(config)
  RpcObserver* observer = nullptr;           // null: none; else must outlive the server
};

class Server {
 public:
  // Builds and starts serving on config.listen_address. INVALID_ARGUMENT for a bad config,
  // UNAVAILABLE when the codec backend or the address cannot be had, the store's error when a
  // tier cannot be opened.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerConfig& config,
                                                                     ServerDeps deps = {});
  // Drains with a zero deadline if Drain was not called.
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Health NOT_SERVING and new calls refused with UNAVAILABLE; for `lame_duck` the listener
  // still accepts (probes read NOT_SERVING, not a refused connection); then it closes, in-flight
  // calls may finish for up to `deadline`, what is left is cancelled and the worker pools stop.
  // Idempotent; blocks until done.
  void Drain(absl::Duration deadline, absl::Duration lame_duck = absl::ZeroDuration());

  // The port actually bound (useful with port 0).
  int port() const;
  // host:port with the bound port.
  std::string address() const;
  // The port of the Prometheus /metrics endpoint; 0 when there is none.
  int metrics_port() const;
  // "backend cpu, tiers memory(4GiB) + disk(64GiB, write_through, /var/lib/gearkv)".
  std::string Describe() const;
  Backend backend() const;
  // Number of waiting codec tasks (for metrics).
  size_t codec_queue_length() const;

  // A channel to this server that bypasses the network (tests).
  std::shared_ptr<grpc::Channel> InProcessChannel();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SERVER_H_
