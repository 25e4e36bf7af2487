// RpcObserver -> gearkv::metrics: feeds the Prometheus metrics from the service's observation
// points, and serves /metrics.
//
// Thread-safety: the observer methods may be called concurrently (Metrics is thread-safe).
#ifndef GEARKV_SERVER_SRC_METRICS_OBSERVER_H_
#define GEARKV_SERVER_SRC_METRICS_OBSERVER_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "gearkv/metrics/metrics.h"
#include "gearkv/server/rpc_observer.h"
#include "gearkv/store/block_store.h"
#include "worker_pool.h"

namespace gearkv::server {

class MetricsObserver final : public RpcObserver {
 public:
  // Starts the /metrics exposer on `address` (host:port). `store` (its tiers) and `codec_pool`
  // (its queue length) are read at every scrape; rejections are counted for the two pools by
  // name. All three must outlive the observer. UNAVAILABLE when the port is taken.
  static absl::StatusOr<std::unique_ptr<MetricsObserver>> Start(const std::string& address,
                                                                store::BlockStore* store,
                                                                const WorkerPool& codec_pool,
                                                                const WorkerPool& io_pool);

  void OnRpcStarted(std::string_view method) override;
  void OnRpcDone(const RpcRecord& record) override;
  void OnBatchKeyDone(const BatchKeyRecord& record) override;
  void OnCodecDone(const CodecRecord& record) override;
  void OnPoolRejected(std::string_view pool) override;

  int port() const { return metrics_.exposer_port(); }

 private:
  explicit MetricsObserver(metrics::MetricsOptions options) : metrics_(std::move(options)) {}
  metrics::Metrics metrics_;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_METRICS_OBSERVER_H_
