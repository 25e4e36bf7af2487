// The server's configuration: a plain struct with its defaults, kept apart from the parser that
// fills it from flags and environment variables (config_flags.h).
#ifndef GEARKV_SERVER_CONFIG_H_
#define GEARKV_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gearkv/codec.h"

namespace gearkv::server {

// How the disk tier is fed.
enum class DiskPolicy {
  kWriteThrough,  // every Put goes to memory and disk; a restart serves every acknowledged block
  kSpillOnEvict,  // Puts go to memory; blocks evicted from memory move to disk
};
std::string_view DiskPolicyName(DiskPolicy policy);  // "write_through", "spill_on_evict"
absl::StatusOr<DiskPolicy> ParseDiskPolicy(std::string_view name);
// When a disk tier write reaches stable storage before its Put returns.
enum class DiskSync {
  kNone,    // written to the OS: survives a crash of the process, not a power loss
  kAlways,  // fsynced: survives a power loss too
};
std::string_view DiskSyncName(DiskSync sync);  // "none", "always"
absl::StatusOr<DiskSync> ParseDiskSync(std::string_view name);
absl::StatusOr<Backend> ParseBackend(std::string_view name);  // "auto", "cpu", "cuda"

struct ServerConfig {
  // host:port to serve gRPC on (port 0: the OS picks one; Server::port() says which).
  std::string listen_address = "0.0.0.0:50051";
  // Memory tier budget (stored block bytes + keys).
  uint64_t memory_budget_bytes = uint64_t{4} << 30;
  // Disk tier directory (RocksDB); empty = no disk tier.
  std::string disk_dir;
  uint64_t disk_budget_bytes = uint64_t{64} << 30;
  DiskPolicy disk_policy = DiskPolicy::kWriteThrough;
  DiskSync disk_sync = DiskSync::kNone;
  // Codec preset for Puts that name none.
  std::string default_preset = "gear4";
  // Largest tensor (raw bytes, shape x dtype) a Put may declare; larger is RESOURCE_EXHAUSTED.
  uint64_t max_block_bytes = uint64_t{256} << 20;
  // Raw tensor bytes the server holds at once for Puts (received, not yet compressed) and RAW
  // Gets (decompressed, not yet sent); a call that would pass it is RESOURCE_EXHAUSTED. Idle
  // buffers kept for reuse (BufferPool) take at most an eighth of it more.
  uint64_t max_inflight_bytes = uint64_t{2} << 30;
  // Codec worker threads; 0 = one per hardware thread.
  int worker_threads = 0;
  // Codec tasks that may wait for a worker; beyond, RESOURCE_EXHAUSTED.
  int worker_queue_depth = 64;
  // Threads one compression/decompression may use; 0 = every hardware thread (the helpers come
  // from the codec's one pool, shared by all calls).
  int codec_threads = 0;
  // Store threads (Get/Lookup/Delete store access, which may touch disk) and their queue.
  int io_threads = 4;
  int io_queue_depth = 1024;
  // Port of the Prometheus /metrics endpoint; 0 = none.
  int metrics_port = 9464;
  // On SIGTERM/SIGINT, how long in-flight calls may run before they are cancelled.
  absl::Duration drain_deadline = absl::Seconds(30);
  // On SIGTERM/SIGINT, before the drain: how long health answers NOT_SERVING (and new KVCache
  // calls UNAVAILABLE) while the listener still accepts, so that a load balancer's probe sees a
  // draining server rather than a refused connection. 0 = close the listener at once.
  absl::Duration lame_duck = absl::Seconds(2);
  // HTTP/2 connection upkeep: a connection without calls for max_connection_idle is closed
  // (GOAWAY); every connection is closed after max_connection_age (its calls get
  // max_connection_age_grace to finish; 0 = no limit); the server pings an idle connection every
  // keepalive_time and closes it when no answer comes within keepalive_timeout (a dead peer).
  absl::Duration max_connection_idle = absl::Minutes(5);
  absl::Duration max_connection_age = absl::ZeroDuration();
  absl::Duration max_connection_age_grace = absl::Seconds(30);
  absl::Duration keepalive_time = absl::Minutes(1);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  Backend backend = Backend::kAuto;
  // When set, every KVCache call must send "authorization: Bearer <token>" (else
  // UNAUTHENTICATED). Health and reflection stay open. Prefer the environment variable to the
  // flag: command lines are visible to every user of the machine.
  std::string auth_token;
};

// INVALID_ARGUMENT naming the field when a value is out of range (unknown preset, zero budget,
// negative thread count, ...).
absl::Status ValidateConfig(const ServerConfig& config);

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_CONFIG_H_
