// RpcObserver -> gearkv::metrics: feeds the Prometheus metrics from the service's observation
// points, and serves /metrics.
//
// Thread-safety: the observer methods may be called concurrently (Metrics is thread-safe).
#ifndef GEARKV_SERVER_SRC_METRICS_OBSERVER_H_
#define GEARKV_SERVER_SRC_METRICS_OBSERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gearkv/metrics/metrics.h"
#include "gearkv/server/rpc_observer.h"
#include "gearkv/store/block_store.h"

namespace gearkv::server {

class MetricsObserver final : public RpcObserver {
 public:
  // Starts the /metrics exposer on `address` (host:port). `store` and `codec_queue_length`
  // are read at every scrape and must outlive the observer. UNAVAILABLE when the port is taken.
  static absl::StatusOr<std::unique_ptr<MetricsObserver>> Start(
      const std::string& address, store::BlockStore* store,
      std::function<size_t()> codec_queue_length, int codec_workers, int codec_queue_depth);

  void OnRpcStarted(std::string_view method) override;
  void OnRpcDone(const RpcRecord& record) override;
  void OnCodecDone(const CodecRecord& record) override;

  int port() const { return metrics_.exposer_port(); }

 private:
  MetricsObserver() = default;
  metrics::Metrics metrics_;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_METRICS_OBSERVER_H_
