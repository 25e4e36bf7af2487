#include "gearkv/metrics/server_metrics.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gearkv/codec.h"

namespace gearkv::metrics {

void ServerMetrics::OnRpcStarted(std::string_view method) {
  if (std::optional<RpcMethod> m = RpcMethodFromName(method)) metrics_->RpcStarted(*m);
}

void ServerMetrics::OnRpcDone(const server::RpcRecord& record) {
  const std::optional<RpcMethod> method = RpcMethodFromName(record.method);
  if (!method.has_value()) return;
  metrics_->ObserveRpc(*method, record.code, absl::ToDoubleSeconds(record.latency));
  switch (*method) {
    case RpcMethod::kPut:
      // A Put's payload is the raw tensor: on the wire it is what it stands for.
      metrics_->ObserveReceived(record.bytes_in, record.bytes_in);
      if (record.code == absl::StatusCode::kOk) {
        metrics_->ObservePut(record.preset, record.raw_bytes, record.block_bytes,
                             record.relative_error);
      }
      break;
    case RpcMethod::kGet:
      metrics_->ObserveSent(record.raw_bytes, record.bytes_out);
      break;
    default:
      break;
  }
}

void ServerMetrics::OnCodecDone(const server::CodecRecord& record) {
  metrics_->ObserveCodec(
      BackendName(record.backend),
      record.op == server::CodecOp::kCompress ? CodecOp::kCompress : CodecOp::kDecompress,
      absl::ToDoubleSeconds(record.duration), record.raw_bytes);
}

std::vector<TierSample> ToTierSamples(const std::vector<store::TierStats>& stats) {
  std::vector<TierSample> samples;
  samples.reserve(stats.size());
  for (const store::TierStats& t : stats) {
    samples.push_back({.tier = t.tier,
                       .blocks = t.blocks,
                       .bytes = t.bytes,
                       .capacity_bytes = t.capacity_bytes,
                       .hits = t.hits,
                       .misses = t.misses,
                       .evictions = t.evictions,
                       .expirations = t.expirations});
  }
  return samples;
}

void ExportServerState(Metrics& metrics, server::Server& server,
                       const server::ServerConfig& config) {
  // The server's rule for its codec pool: worker_threads, or one per hardware thread.
  const int hardware = std::max(1u, std::thread::hardware_concurrency());
  metrics.SetWorkerPoolSize(config.worker_threads > 0 ? config.worker_threads : hardware,
                            config.worker_queue_depth);
  metrics.SetTierStatsSource([&server] { return ToTierSamples(server.block_store().Stats()); });
  metrics.SetScrapeCallback([&server](Metrics& m) {
    m.SetWorkerPoolQueueDepth(static_cast<int64_t>(server.codec_queue_length()));
  });
}

std::string MetricsBindAddress(std::string_view listen_address, int metrics_port) {
  const size_t colon = listen_address.rfind(':');
  const std::string_view host =
      colon == std::string_view::npos ? std::string_view() : listen_address.substr(0, colon);
  const bool loopback = host == "localhost" || host.starts_with("127.") || host == "[::1]";
  return absl::StrCat(loopback ? "127.0.0.1" : "0.0.0.0", ":", metrics_port);
}

}  // namespace gearkv::metrics
