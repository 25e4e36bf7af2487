// Every Prometheus metric gearkv exports, declared in one class.
//
// Metrics owns a prometheus::Registry. Its constructor creates every metric family and every
// label child whose label values are known up front (methods x codes, presets, backends x
// operations, worker pools), so labelled counters are exported at 0 from the first scrape and no
// child is ever created on the request path. The Observe*/Set* methods only touch pre-built
// children: they are a few atomic adds and take no lock shared with other requests (histograms
// take a per-child mutex inside prometheus-cpp).
//
// Pull-style values (store tiers, process statistics) are refreshed at scrape time: the store
// through the callback given to SetTierStatsSource, the process from /proc.
//
// Label values are bounded: unknown presets are counted as "other", unknown backends,
// operations and pools are ignored. No label carries a key, namespace or request id.
//
// Thread-safety: every method may be called concurrently from any thread, except StartExposer,
// which the owner calls once.
#ifndef GEARKV_METRICS_METRICS_H_
#define GEARKV_METRICS_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "gearkv/base/codec_op.h"
#include "gearkv/base/mutex.h"
#include "gearkv/store/block_store.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace gearkv::metrics {

namespace internal {
struct TierChildren;
}  // namespace internal

// The RPCs of the KVCache service. The numeric values index internal tables.
enum class RpcMethod : uint8_t { kPut, kGet, kLookup, kDelete, kStats, kGetMany, kPutMany };
inline constexpr int kNumRpcMethods = 7;
// Whether `method` is a batched call (GetMany, PutMany).
inline bool IsBatched(RpcMethod method) {
  return method == RpcMethod::kGetMany || method == RpcMethod::kPutMany;
}
// "Put", "Get", ... as in the proto; nullopt for an unknown name.
std::optional<RpcMethod> RpcMethodFromName(std::string_view name);
std::string_view RpcMethodName(RpcMethod method);

// One store tier at one instant, as the store reports it (hits, misses, evictions and
// expirations are totals since the tier started).
using TierSample = store::TierStats;

struct MetricsOptions {
  std::string version = {};  // gearkv_build_info{version}; empty = this build's project version
  // Preset label values created at startup. Any other name is counted as "other".
  std::vector<std::string> presets = {"none",  "kivi4",  "kivi2", "gear4",
                                      "gear2", "gearl4", "gearl2"};
  std::vector<std::string> backends = {"cpu", "cuda"};  // codec backend label values
  std::vector<std::string> tiers = {"memory", "disk"};  // tier label values created at startup
  // Worker pool label values (the names of the pools the server creates); rejections by any
  // other pool are ignored.
  std::vector<std::string> pools = {};
};

class Metrics {
 public:
  explicit Metrics(MetricsOptions options = {});
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // ---- RPCs. Call RpcStarted once when a call arrives and ObserveRpc exactly once when it
  // finishes (any status). Between the two the call counts in gearkv_inflight_streams.
  void RpcStarted(RpcMethod method);
  void ObserveRpc(RpcMethod method, absl::StatusCode code, double seconds);
  // A batched call (GetMany, PutMany; others are ignored): its blocks (keys asked, blocks sent)
  // once when it finishes (gearkv_batch_blocks), and each block's own status as it is known
  // (gearkv_batch_keys_total, labelled like grpc_server_handled_total).
  void ObserveBatch(RpcMethod method, uint32_t blocks);
  void ObserveBatchKey(RpcMethod method, absl::StatusCode code);

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

  // ---- Worker pools. The codec pool's waiting tasks and fixed size; one refusal of work by
  // `pool`, whose workers and queue were full (gearkv_worker_pool_rejected_total).
  void SetWorkerPoolQueueDepth(int64_t tasks);
  void SetWorkerPoolSize(int64_t workers, int64_t queue_capacity);
  void ObservePoolRejected(std::string_view pool);

  // ---- Store tiers, read at every scrape from the calling thread of the scrape: `source` is
  // called here once (to create the tier children) and at every scrape.
  void SetTierStatsSource(std::function<std::vector<TierSample>()> source);

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
  struct Families;
  class ScrapeCollectable;

  // Updates tier and process values; called before every collection.
  void Refresh();
  void RefreshTiers() ABSL_LOCKS_EXCLUDED(refresh_mu_);
  void RefreshProcess() ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_);
  internal::TierChildren& TierChildrenFor(const std::string& tier)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(refresh_mu_);

  std::shared_ptr<prometheus::Registry> registry_;
  // Every family and the children built up front; built in the constructor, read-only after.
  std::unique_ptr<const Families> families_;

  // Serialises scrape-time refreshes (two concurrent scrapes must not apply a delta twice).
  Mutex refresh_mu_;
  std::function<std::vector<TierSample>()> tier_source_ ABSL_GUARDED_BY(refresh_mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<internal::TierChildren>> tiers_
      ABSL_GUARDED_BY(refresh_mu_);
  double process_cpu_seen_ ABSL_GUARDED_BY(refresh_mu_) = 0;

  std::shared_ptr<ScrapeCollectable> collectable_;
  // Last member: destroyed first, so no scrape runs while the rest is torn down.
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace gearkv::metrics

#endif  // GEARKV_METRICS_METRICS_H_
