#include "metrics_observer.h"

#include <utility>

#include "absl/time/time.h"
#include "gearkv/status_macros.h"

namespace gearkv::server {

absl::StatusOr<std::unique_ptr<MetricsObserver>> MetricsObserver::Start(
    const std::string& address, store::BlockStore* store, const WorkerPool& codec_pool,
    const WorkerPool& io_pool) {
  std::unique_ptr<MetricsObserver> observer(
      new MetricsObserver(metrics::MetricsOptions{.pools = {codec_pool.name(), io_pool.name()}}));
  metrics::Metrics& m = observer->metrics_;
  m.SetWorkerPoolSize(codec_pool.threads(), codec_pool.queue_depth());
  // Read at scrape time: the store's tiers, and (riding along) the codec queue's length.
  m.SetTierStatsSource([&m, store, &codec_pool] {
    m.SetWorkerPoolQueueDepth(static_cast<int64_t>(codec_pool.queued()));
    return store->Stats();
  });
  GEARKV_RETURN_IF_ERROR(m.StartExposer(address));
  return observer;
}

void MetricsObserver::OnRpcStarted(std::string_view method) {
  if (auto m = metrics::RpcMethodFromName(method)) metrics_.RpcStarted(*m);
}

void MetricsObserver::OnRpcDone(const RpcRecord& record) {
  const std::optional<metrics::RpcMethod> method = metrics::RpcMethodFromName(record.method);
  if (!method.has_value()) return;
  metrics_.ObserveRpc(*method, record.code, absl::ToDoubleSeconds(record.latency));
  if (metrics::IsBatched(*method)) {
    // The bytes were counted block by block (OnBatchKeyDone).
    metrics_.ObserveBatch(*method, record.batch_blocks);
  } else if (*method == metrics::RpcMethod::kPut) {
    if (record.bytes_in > 0) metrics_.ObserveReceived(record.bytes_in, record.bytes_in);
    if (record.code == absl::StatusCode::kOk) {
      metrics_.ObservePut(record.preset, record.raw_bytes, record.block_bytes,
                          record.relative_error);
    }
  } else if (*method == metrics::RpcMethod::kGet && record.bytes_out > 0) {
    metrics_.ObserveSent(record.raw_bytes, record.bytes_out);
  }
}

void MetricsObserver::OnBatchKeyDone(const BatchKeyRecord& record) {
  const std::optional<metrics::RpcMethod> method = metrics::RpcMethodFromName(record.method);
  if (!method.has_value()) return;
  metrics_.ObserveBatchKey(*method, record.code);
  if (*method == metrics::RpcMethod::kPutMany) {
    if (record.bytes_in > 0) metrics_.ObserveReceived(record.bytes_in, record.bytes_in);
    if (record.code == absl::StatusCode::kOk) {
      metrics_.ObservePut(record.preset, record.raw_bytes, record.block_bytes,
                          record.relative_error);
    }
  } else if (record.bytes_out > 0) {
    metrics_.ObserveSent(record.raw_bytes, record.bytes_out);
  }
}

void MetricsObserver::OnCodecDone(const CodecRecord& record) {
  if (!record.ok) return;
  metrics_.ObserveCodec(BackendName(record.backend), record.op,
                        absl::ToDoubleSeconds(record.duration), record.raw_bytes);
}

void MetricsObserver::OnPoolRejected(std::string_view pool) { metrics_.ObservePoolRejected(pool); }

}  // namespace gearkv::server
