// Every Prometheus metric gearkv exports, declared in one class and built in one constructor.
//
// Metrics owns a prometheus::Registry. Its constructor creates every metric family and every
// label child whose label values are known up front (methods x codes, presets, backends x
// operations), so labelled counters are exported at 0 from the first scrape and no child is ever
// created on the request path. The Observe*/Set* methods only touch pre-built children: they are
// a few atomic adds and take no lock shared with other requests (histograms take a per-child
// mutex inside prometheus-cpp).
//
// Pull-style values (store tiers, process statistics) are refreshed at scrape time: the store
// through the callback given to SetTierStatsSource, the process from /proc.
//
// Label values are bounded: unknown presets are counted as "other", unknown backends and
// operations are ignored. No label carries a key, namespace or request id.
//
// Thread-safety: every method may be called concurrently from any thread, except StartExposer,
// which the owner calls once.
#ifndef GEARKV_METRICS_METRICS_H_
#define GEARKV_METRICS_METRICS_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "gearkv/store/block_store.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace gearkv::metrics {

// The RPCs of gearkv.v1.KVCache. The numeric values index internal tables.
enum class RpcMethod : uint8_t { kPut, kGet, kLookup, kDelete, kStats };
inline constexpr int kNumRpcMethods = 5;
// "Put", "Get", ... as in the proto; nullopt for an unknown name.
std::optional<RpcMethod> RpcMethodFromName(std::string_view name);
std::string_view RpcMethodName(RpcMethod method);

// Compress or decompress, for codec timing.
enum class CodecOp : uint8_t { kCompress, kDecompress };

// One store tier at one instant, as the store reports it (hits, misses, evictions and
// expirations are totals since the tier started).
using TierSample = store::TierStats;

struct MetricsOptions {
  std::string version;  // gearkv_build_info{version}; empty = this build's project version
  // Preset label values created at startup. Any other name is counted as "other".
  std::vector<std::string> presets = {"none",  "kivi4",  "kivi2", "gear4",
                                      "gear2", "gearl4", "gearl2"};
  std::vector<std::string> backends = {"cpu", "cuda"};  // codec backend label values
  std::vector<std::string> tiers = {"memory", "disk"};  // tier label values created at startup
};

class Metrics {
 public:
  // The gRPC service label value of every RPC metric.
  static constexpr std::string_view kGrpcService = "gearkv.v1.KVCache";

  explicit Metrics(MetricsOptions options = {});
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // ---- RPCs. Call RpcStarted once when a call arrives and ObserveRpc exactly once when it
  // finishes (any status). Between the two the call counts in gearkv_inflight_streams.
  void RpcStarted(RpcMethod method);
  void ObserveRpc(RpcMethod method, absl::StatusCode code, double seconds);

  // ---- Bytes on the data path. `raw` counts tensor bytes in the raw representation (what
  // the bytes stand for), `wire` the payload bytes that actually crossed the network (smaller
  // than raw for a COMPRESSED Get).
  void ObserveReceived(uint64_t raw_bytes, uint64_t wire_bytes);
  void ObserveSent(uint64_t raw_bytes, uint64_t wire_bytes);

  // ---- A stored block: its preset (the spec's starting preset), raw tensor bytes, stored
  // (compressed) bytes and, when measured, the relative error ||X - X^||_F / ||X||_F.
  void ObservePut(std::string_view preset, uint64_t raw_bytes, uint64_t stored_bytes,
                  std::optional<double> relative_error);

  // ---- One codec call: backend ("cpu", "cuda"), operation, its duration and the raw tensor
  // bytes it produced or consumed.
  void ObserveCodec(std::string_view backend, CodecOp op, double seconds, uint64_t raw_bytes);

  // ---- The worker pool that runs compression: tasks waiting, and its fixed size.
  void SetWorkerPoolQueueDepth(int64_t tasks);
  void SetWorkerPoolSize(int64_t workers, int64_t queue_capacity);

  // ---- Pull-style values, read at every scrape from the calling thread of the scrape.
  // Store tiers: `source` is called here once (to create the tier children) and at every scrape.
  void SetTierStatsSource(std::function<std::vector<TierSample>()> source);
  // Anything else the owner reads at scrape time, e.g.
  // `[&] (Metrics& m) { m.SetWorkerPoolQueueDepth(server.codec_queue_length()); }`.
  void SetScrapeCallback(std::function<void(Metrics&)> callback);
  // Forgets the tier source and the scrape callback; once it returns no scrape calls them.
  // Call it before destroying what they reference (the server) while the exposer still runs.
  void ClearScrapeSources();

  // ---- Exposition.
  // Serves /metrics on `address` ("0.0.0.0:9464", "127.0.0.1:0" for any free port) from
  // civetweb threads. UNAVAILABLE naming the address when it cannot bind (port taken),
  // FAILED_PRECONDITION if already started.
  [[nodiscard]] absl::Status StartExposer(const std::string& address);
  // The port the exposer listens on, 0 when not started.
  int exposer_port() const;

  // Refreshes the pull-style values and returns the whole registry in the Prometheus text
  // format (what /metrics serves).
  std::string TextExposition();

 private:
  struct PresetChildren;
  struct TierChildren;
  class ScrapeCollectable;

  // Updates tier and process values; called before every collection.
  void Refresh();
  void RefreshTiers() ABSL_LOCKS_EXCLUDED(refresh_mu_);
  void RefreshProcess() ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_);
  TierChildren& TierChildrenFor(const std::string& tier) ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_);
  PresetChildren& PresetChildrenFor(std::string_view preset);

  std::shared_ptr<prometheus::Registry> registry_;

  // RPC families and children.
  prometheus::Family<prometheus::Counter>* started_family_;
  prometheus::Family<prometheus::Counter>* handled_family_;
  prometheus::Family<prometheus::Histogram>* handling_seconds_family_;
  prometheus::Family<prometheus::Gauge>* inflight_family_;
  std::array<prometheus::Counter*, kNumRpcMethods> started_{};
  std::array<std::array<prometheus::Counter*, 17>, kNumRpcMethods> handled_{};
  std::array<prometheus::Histogram*, kNumRpcMethods> handling_seconds_{};
  std::array<prometheus::Gauge*, kNumRpcMethods> inflight_{};

  // Data-path bytes.
  prometheus::Counter* received_raw_bytes_;
  prometheus::Counter* received_wire_bytes_;
  prometheus::Counter* sent_raw_bytes_;
  prometheus::Counter* sent_wire_bytes_;

  // Per preset; the map is built in the constructor and only read afterwards.
  absl::flat_hash_map<std::string, std::unique_ptr<PresetChildren>> presets_;

  // Codec, per backend x operation; built in the constructor, read-only afterwards.
  struct CodecChildren {
    prometheus::Histogram* seconds;
    prometheus::Counter* raw_bytes;
  };
  absl::flat_hash_map<std::string, std::array<CodecChildren, 2>> codec_;

  // Worker pool.
  prometheus::Gauge* worker_queue_depth_;
  prometheus::Gauge* worker_threads_;
  prometheus::Gauge* worker_queue_capacity_;

  // Store tiers.
  prometheus::Family<prometheus::Gauge>* store_bytes_family_;
  prometheus::Family<prometheus::Gauge>* store_capacity_family_;
  prometheus::Family<prometheus::Gauge>* store_blocks_family_;
  prometheus::Family<prometheus::Counter>* store_hits_family_;
  prometheus::Family<prometheus::Counter>* store_misses_family_;
  prometheus::Family<prometheus::Counter>* store_evictions_family_;
  prometheus::Family<prometheus::Counter>* store_expirations_family_;

  // Process.
  prometheus::Gauge* process_rss_;
  prometheus::Gauge* process_vsize_;
  prometheus::Counter* process_cpu_;
  prometheus::Gauge* process_open_fds_;
  prometheus::Gauge* process_max_fds_;
  prometheus::Gauge* process_start_time_;

  // Serialises scrape-time refreshes (two concurrent scrapes must not apply a delta twice).
  absl::Mutex refresh_mu_;
  std::function<std::vector<TierSample>()> tier_source_ ABSL_GUARDED_BY(refresh_mu_);
  std::function<void(Metrics&)> scrape_callback_ ABSL_GUARDED_BY(refresh_mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<TierChildren>> tiers_
      ABSL_GUARDED_BY(refresh_mu_);
  double process_cpu_seen_ ABSL_GUARDED_BY(refresh_mu_) = 0;

  std::shared_ptr<ScrapeCollectable> collectable_;
  // Last member: destroyed first, so no scrape runs while the rest is torn down.
  std::unique_ptr<prometheus::Exposer> exposer_;
};

// Measures one RPC: RpcStarted at construction, ObserveRpc with the elapsed time at Finish.
// Finish is called at most once; a timer destroyed unfinished reports CANCELLED.
// Not thread-safe (one call, one owner); `metrics` may be null (then it does nothing).
class RpcTimer {
 public:
  RpcTimer(Metrics* metrics, RpcMethod method);
  ~RpcTimer();
  RpcTimer(const RpcTimer&) = delete;
  RpcTimer& operator=(const RpcTimer&) = delete;

  void Finish(absl::StatusCode code);

 private:
  Metrics* metrics_;
  RpcMethod method_;
  std::chrono::steady_clock::time_point start_;
  bool finished_ = false;
};

}  // namespace gearkv::metrics

#endif  // GEARKV_METRICS_METRICS_H_
