// Connects gearkv::metrics::Metrics to the running gearkv server: ServerMetrics is the
// server's RpcObserver (every finished RPC and codec call becomes metric observations), and
// ExportServerState makes each scrape read the store tiers and the worker-pool queue.
//
// Thread-safety: ServerMetrics' methods are called concurrently by the server and only touch
// Metrics' thread-safe methods.
#ifndef GEARKV_METRICS_SERVER_METRICS_H_
#define GEARKV_METRICS_SERVER_METRICS_H_

#include <string>
#include <string_view>
#include <vector>

#include "gearkv/metrics/metrics.h"
#include "gearkv/server/config.h"
#include "gearkv/server/rpc_observer.h"
#include "gearkv/server/server.h"
#include "gearkv/store/block_store.h"

namespace gearkv::metrics {

class ServerMetrics final : public server::RpcObserver {
 public:
  // `metrics` must outlive this observer (and so the server it observes).
  explicit ServerMetrics(Metrics* metrics) : metrics_(metrics) {}

  void OnRpcStarted(std::string_view method) override;
  void OnRpcDone(const server::RpcRecord& record) override;
  void OnCodecDone(const server::CodecRecord& record) override;

 private:
  Metrics* metrics_;
};

// Store tier statistics as metric samples.
std::vector<TierSample> ToTierSamples(const std::vector<store::TierStats>& stats);

// From now on every scrape reads `server`'s store tiers and codec queue; sets the worker-pool
// size gauges from `config`. Call metrics.ClearScrapeSources() before `server` is destroyed.
void ExportServerState(Metrics& metrics, server::Server& server,
                       const server::ServerConfig& config);

// Where to serve /metrics: on loopback when gRPC listens on a loopback host, else on every
// interface ("0.0.0.0:<port>").
std::string MetricsBindAddress(std::string_view listen_address, int metrics_port);

}  // namespace gearkv::metrics

#endif  // GEARKV_METRICS_SERVER_METRICS_H_
