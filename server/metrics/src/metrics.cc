#include "gearkv/metrics/metrics.h"

#include <CivetServer.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gearkv/version.h"
#include "process_stats.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace gearkv::metrics {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

constexpr std::array<std::string_view, kNumRpcMethods> kMethodNames = {"Put", "Get", "Lookup",
                                                                       "Delete", "Stats"};
// grpc_type as go-grpc-prometheus and the dashboards built on it spell it.
constexpr std::array<std::string_view, kNumRpcMethods> kMethodTypes = {
    "client_stream", "server_stream", "unary", "unary", "unary"};
// grpc_code values: the Go spelling of the canonical codes (what dashboards match on), indexed
// by the numeric code, which absl and gRPC share.
constexpr std::array<std::string_view, 17> kCodeNames = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};
constexpr std::array<std::string_view, 2> kCodecOps = {"compress", "decompress"};
constexpr std::string_view kOtherPreset = "other";

// 50 us .. 10 s: a Lookup on a warm memory tier up to a 1 GiB put on a busy CPU codec.
Histogram::BucketBoundaries LatencyBuckets() {
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
          50e-3, 100e-3, 250e-3, 500e-3, 1.0,  2.5,    5.0,  10.0};
}

// 1 KiB .. 1 GiB in steps of 2x (one layer of a small model up to a whole long-context block).
Histogram::BucketBoundaries SizeBuckets() {
  Histogram::BucketBoundaries buckets;
  for (double b = 1024; b <= 1024.0 * 1024 * 1024; b *= 2) buckets.push_back(b);
  return buckets;
}

// raw / stored: just under 1 for `none` (the block header), up to 32 (2 bits with small groups),
// finer where presets land.
Histogram::BucketBoundaries RatioBuckets() {
  return {0.95, 1, 1.25, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 10, 12, 16, 24, 32};
}

// ||X - X^|| / ||X||: 0 for lossless, 1e-3 .. 0.1 for 8 to 2 bits, above that is broken.
Histogram::BucketBoundaries RelativeErrorBuckets() {
  return {1e-6, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.5, 1};
}

std::string Str(std::string_view s) { return std::string(s); }

// Debian's abseil is built with its own string_view type, distinct from std::string_view.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

std::optional<RpcMethod> RpcMethodFromName(std::string_view name) {
  for (int i = 0; i < kNumRpcMethods; ++i) {
    if (kMethodNames[i] == name) return static_cast<RpcMethod>(i);
  }
  return std::nullopt;
}

std::string_view RpcMethodName(RpcMethod method) { return kMethodNames[static_cast<int>(method)]; }

struct Metrics::PresetChildren {
  Counter* raw_bytes;
  Counter* stored_bytes;
  Histogram* ratio;
  Histogram* relative_error;
  Histogram* block_size;
};

struct Metrics::TierChildren {
  Gauge* bytes;
  Gauge* capacity;
  Gauge* blocks;
  // Counters follow the tier's running totals: each refresh adds the increase since the last.
  Counter* hits;
  Counter* misses;
  Counter* evictions;
  Counter* expirations;
  TierSample seen;
};

// What the exposer serves: refreshes pull-style values, then collects the registry.
class Metrics::ScrapeCollectable : public prometheus::Collectable {
 public:
  explicit ScrapeCollectable(Metrics* metrics) : metrics_(metrics) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    metrics_->Refresh();
    return metrics_->registry_->Collect();
  }

 private:
  Metrics* metrics_;
};

Metrics::Metrics(MetricsOptions options)
    : registry_(
          std::make_shared<prometheus::Registry>(prometheus::Registry::InsertBehavior::Throw)) {
  prometheus::Registry& r = *registry_;

  // ---- gRPC server metrics (the go-grpc-prometheus names).
  started_family_ = &prometheus::BuildCounter()
                         .Name("grpc_server_started_total")
                         .Help("RPCs started on the server.")
                         .Register(r);
  handled_family_ = &prometheus::BuildCounter()
                         .Name("grpc_server_handled_total")
                         .Help("RPCs completed on the server, regardless of success or failure.")
                         .Register(r);
  handling_seconds_family_ =
      &prometheus::BuildHistogram()
           .Name("grpc_server_handling_seconds")
           .Help("Time from the arrival of an RPC to its final status, in seconds.")
           .Register(r);
  inflight_family_ = &prometheus::BuildGauge()
                          .Name("gearkv_inflight_streams")
                          .Help("RPCs (streams) started and not yet finished.")
                          .Register(r);
  for (int m = 0; m < kNumRpcMethods; ++m) {
    const prometheus::Labels labels = {{"grpc_service", Str(kGrpcService)},
                                       {"grpc_method", Str(kMethodNames[m])},
                                       {"grpc_type", Str(kMethodTypes[m])}};
    started_[m] = &started_family_->Add(labels);
    handling_seconds_[m] = &handling_seconds_family_->Add(labels, LatencyBuckets());
    inflight_[m] = &inflight_family_->Add({{"grpc_method", Str(kMethodNames[m])}});
    for (size_t c = 0; c < kCodeNames.size(); ++c) {
      prometheus::Labels with_code = labels;
      with_code["grpc_code"] = Str(kCodeNames[c]);
      handled_[m][c] = &handled_family_->Add(with_code);
    }
  }

  // ---- Data-path bytes.
  auto& received_raw = prometheus::BuildCounter()
                           .Name("gearkv_received_raw_bytes_total")
                           .Help("Tensor bytes received in Put calls (raw representation).")
                           .Register(r);
  auto& received_wire = prometheus::BuildCounter()
                            .Name("gearkv_received_wire_bytes_total")
                            .Help("Payload bytes received (Put chunk data as sent: equal to raw).")
                            .Register(r);
  auto& sent_raw = prometheus::BuildCounter()
                       .Name("gearkv_sent_raw_bytes_total")
                       .Help("Tensor bytes delivered by Get calls, counted as raw (uncompressed).")
                       .Register(r);
  auto& sent_wire =
      prometheus::BuildCounter()
          .Name("gearkv_sent_wire_bytes_total")
          .Help("Payload bytes sent (block bytes for COMPRESSED gets, tensor bytes for RAW).")
          .Register(r);
  received_raw_bytes_ = &received_raw.Add({});
  received_wire_bytes_ = &received_wire.Add({});
  sent_raw_bytes_ = &sent_raw.Add({});
  sent_wire_bytes_ = &sent_wire.Add({});

  // ---- Compression per preset.
  auto& put_raw = prometheus::BuildCounter()
                      .Name("gearkv_put_raw_bytes_total")
                      .Help("Raw tensor bytes of stored blocks, by codec preset.")
                      .Register(r);
  auto& put_stored = prometheus::BuildCounter()
                         .Name("gearkv_put_stored_bytes_total")
                         .Help("Stored (compressed) bytes of stored blocks, by codec preset.")
                         .Register(r);
  auto& ratio = prometheus::BuildHistogram()
                    .Name("gearkv_compression_ratio")
                    .Help("Raw bytes over stored bytes of each stored block, by codec preset.")
                    .Register(r);
  auto& rel_error =
      prometheus::BuildHistogram()
          .Name("gearkv_compression_relative_error")
          .Help("Relative Frobenius error ||X - X^|| / ||X|| of blocks measured at put.")
          .Register(r);
  auto& block_size = prometheus::BuildHistogram()
                         .Name("gearkv_block_raw_size_bytes")
                         .Help("Raw tensor size of each stored block, by codec preset.")
                         .Register(r);
  std::vector<std::string> presets = options.presets;
  presets.push_back(Str(kOtherPreset));
  for (const std::string& preset : presets) {
    if (presets_.contains(preset)) continue;
    const prometheus::Labels labels = {{"preset", preset}};
    presets_[preset] = std::make_unique<PresetChildren>(PresetChildren{
        &put_raw.Add(labels), &put_stored.Add(labels), &ratio.Add(labels, RatioBuckets()),
        &rel_error.Add(labels, RelativeErrorBuckets()), &block_size.Add(labels, SizeBuckets())});
  }

  // ---- Codec.
  auto& codec_seconds = prometheus::BuildHistogram()
                            .Name("gearkv_codec_seconds")
                            .Help("Duration of codec calls, by backend and operation.")
                            .Register(r);
  auto& codec_bytes =
      prometheus::BuildCounter()
          .Name("gearkv_codec_raw_bytes_total")
          .Help("Raw tensor bytes compressed or decompressed, by backend and operation.")
          .Register(r);
  for (const std::string& backend : options.backends) {
    std::array<CodecChildren, 2> children{};
    for (size_t op = 0; op < kCodecOps.size(); ++op) {
      const prometheus::Labels labels = {{"backend", backend}, {"operation", Str(kCodecOps[op])}};
      children[op] = {&codec_seconds.Add(labels, LatencyBuckets()), &codec_bytes.Add(labels)};
    }
    codec_[backend] = children;
  }

  // ---- Worker pool.
  worker_queue_depth_ = &prometheus::BuildGauge()
                             .Name("gearkv_worker_pool_queue_depth")
                             .Help("Codec tasks waiting for a worker.")
                             .Register(r)
                             .Add({});
  worker_threads_ = &prometheus::BuildGauge()
                         .Name("gearkv_worker_pool_workers")
                         .Help("Workers (CPU threads or CUDA streams) running codec tasks.")
                         .Register(r)
                         .Add({});
  worker_queue_capacity_ =
      &prometheus::BuildGauge()
           .Name("gearkv_worker_pool_queue_capacity")
           .Help("Tasks the worker pool queues before answering RESOURCE_EXHAUSTED.")
           .Register(r)
           .Add({});

  // ---- Store tiers.
  store_bytes_family_ = &prometheus::BuildGauge()
                             .Name("gearkv_store_bytes")
                             .Help("Bytes held by a store tier (keys and values).")
                             .Register(r);
  store_capacity_family_ = &prometheus::BuildGauge()
                                .Name("gearkv_store_capacity_bytes")
                                .Help("Byte budget of a store tier.")
                                .Register(r);
  store_blocks_family_ = &prometheus::BuildGauge()
                              .Name("gearkv_store_blocks")
                              .Help("Blocks held by a store tier.")
                              .Register(r);
  store_hits_family_ = &prometheus::BuildCounter()
                            .Name("gearkv_store_hits_total")
                            .Help("Gets that found their block in a store tier.")
                            .Register(r);
  store_misses_family_ = &prometheus::BuildCounter()
                              .Name("gearkv_store_misses_total")
                              .Help("Gets that did not find their block in a store tier.")
                              .Register(r);
  store_evictions_family_ = &prometheus::BuildCounter()
                                 .Name("gearkv_store_evictions_total")
                                 .Help("Blocks evicted from a store tier to stay in budget.")
                                 .Register(r);
  store_expirations_family_ = &prometheus::BuildCounter()
                                   .Name("gearkv_store_expirations_total")
                                   .Help("Blocks dropped from a store tier when their TTL ran out.")
                                   .Register(r);
  {
    absl::MutexLock lock(&refresh_mu_);
    for (const std::string& tier : options.tiers) TierChildrenFor(tier);
  }

  // ---- Build and process.
  prometheus::BuildGauge()
      .Name("gearkv_build_info")
      .Help("Always 1; the labels describe the running build.")
      .Register(r)
      .Add({{"version", options.version.empty() ? std::string(kVersion) : options.version}})
      .Set(1);
  process_rss_ = &prometheus::BuildGauge()
                      .Name("process_resident_memory_bytes")
                      .Help("Resident memory size in bytes.")
                      .Register(r)
                      .Add({});
  process_vsize_ = &prometheus::BuildGauge()
                        .Name("process_virtual_memory_bytes")
                        .Help("Virtual memory size in bytes.")
                        .Register(r)
                        .Add({});
  process_cpu_ = &prometheus::BuildCounter()
                      .Name("process_cpu_seconds_total")
                      .Help("Total user and system CPU time spent in seconds.")
                      .Register(r)
                      .Add({});
  process_open_fds_ = &prometheus::BuildGauge()
                           .Name("process_open_fds")
                           .Help("Number of open file descriptors.")
                           .Register(r)
                           .Add({});
  process_max_fds_ = &prometheus::BuildGauge()
                          .Name("process_max_fds")
                          .Help("Maximum number of open file descriptors.")
                          .Register(r)
                          .Add({});
  process_start_time_ = &prometheus::BuildGauge()
                             .Name("process_start_time_seconds")
                             .Help("Start time of the process since unix epoch in seconds.")
                             .Register(r)
                             .Add({});
  {
    absl::MutexLock lock(&refresh_mu_);
    RefreshProcess();
  }

  collectable_ = std::make_shared<ScrapeCollectable>(this);
}

Metrics::~Metrics() = default;

// ---- RPCs.

void Metrics::RpcStarted(RpcMethod method) {
  const int m = static_cast<int>(method);
  started_[m]->Increment();
  inflight_[m]->Increment();
}

void Metrics::ObserveRpc(RpcMethod method, absl::StatusCode code, double seconds) {
  const int m = static_cast<int>(method);
  int c = static_cast<int>(code);
  if (c < 0 || c >= static_cast<int>(kCodeNames.size()))
    c = static_cast<int>(absl::StatusCode::kUnknown);
  handled_[m][c]->Increment();
  handling_seconds_[m]->Observe(seconds);
  inflight_[m]->Decrement();
}

// ---- Bytes.

void Metrics::ObserveReceived(uint64_t raw_bytes, uint64_t wire_bytes) {
  received_raw_bytes_->Increment(static_cast<double>(raw_bytes));
  received_wire_bytes_->Increment(static_cast<double>(wire_bytes));
}

void Metrics::ObserveSent(uint64_t raw_bytes, uint64_t wire_bytes) {
  sent_raw_bytes_->Increment(static_cast<double>(raw_bytes));
  sent_wire_bytes_->Increment(static_cast<double>(wire_bytes));
}

// ---- Compression.

Metrics::PresetChildren& Metrics::PresetChildrenFor(std::string_view preset) {
  auto it = presets_.find(AbslView(preset));
  if (it == presets_.end()) it = presets_.find(AbslView(kOtherPreset));
  return *it->second;
}

void Metrics::ObservePut(std::string_view preset, uint64_t raw_bytes, uint64_t stored_bytes,
                         std::optional<double> relative_error) {
  PresetChildren& p = PresetChildrenFor(preset);
  p.raw_bytes->Increment(static_cast<double>(raw_bytes));
  p.stored_bytes->Increment(static_cast<double>(stored_bytes));
  p.block_size->Observe(static_cast<double>(raw_bytes));
  if (stored_bytes > 0) {
    p.ratio->Observe(static_cast<double>(raw_bytes) / static_cast<double>(stored_bytes));
  }
  if (relative_error.has_value()) p.relative_error->Observe(*relative_error);
}

void Metrics::ObserveCodec(std::string_view backend, CodecOp op, double seconds,
                           uint64_t raw_bytes) {
  auto it = codec_.find(AbslView(backend));
  if (it == codec_.end()) return;
  const CodecChildren& c = it->second[static_cast<int>(op)];
  c.seconds->Observe(seconds);
  c.raw_bytes->Increment(static_cast<double>(raw_bytes));
}

// ---- Worker pool.

void Metrics::SetWorkerPoolQueueDepth(int64_t tasks) {
  worker_queue_depth_->Set(static_cast<double>(tasks));
}

void Metrics::SetWorkerPoolSize(int64_t workers, int64_t queue_capacity) {
  worker_threads_->Set(static_cast<double>(workers));
  worker_queue_capacity_->Set(static_cast<double>(queue_capacity));
}

// ---- Store tiers and process (pull-style).

void Metrics::SetTierStatsSource(std::function<std::vector<TierSample>()> source) {
  {
    absl::MutexLock lock(&refresh_mu_);
    tier_source_ = std::move(source);
  }
  RefreshTiers();
}

Metrics::TierChildren& Metrics::TierChildrenFor(const std::string& tier) {
  auto it = tiers_.find(tier);
  if (it != tiers_.end()) return *it->second;
  const prometheus::Labels labels = {{"tier", tier}};
  auto children = std::make_unique<TierChildren>(
      TierChildren{&store_bytes_family_->Add(labels), &store_capacity_family_->Add(labels),
                   &store_blocks_family_->Add(labels), &store_hits_family_->Add(labels),
                   &store_misses_family_->Add(labels), &store_evictions_family_->Add(labels),
                   &store_expirations_family_->Add(labels), TierSample{}});
  return *tiers_.emplace(tier, std::move(children)).first->second;
}

namespace {
// Adds the increase of a running total to `counter`. A total that went down means the tier
// restarted from zero: its whole new value is the increase.
void FollowTotal(Counter* counter, uint64_t now, uint64_t* seen) {
  const uint64_t increase = now >= *seen ? now - *seen : now;
  if (increase > 0) counter->Increment(static_cast<double>(increase));
  *seen = now;
}
}  // namespace

void Metrics::RefreshTiers() {
  absl::MutexLock lock(&refresh_mu_);
  if (!tier_source_) return;
  for (const TierSample& sample : tier_source_()) {
    TierChildren& t = TierChildrenFor(sample.tier);
    t.bytes->Set(static_cast<double>(sample.bytes));
    t.capacity->Set(static_cast<double>(sample.capacity_bytes));
    t.blocks->Set(static_cast<double>(sample.blocks));
    FollowTotal(t.hits, sample.hits, &t.seen.hits);
    FollowTotal(t.misses, sample.misses, &t.seen.misses);
    FollowTotal(t.evictions, sample.evictions, &t.seen.evictions);
    FollowTotal(t.expirations, sample.expirations, &t.seen.expirations);
  }
}

void Metrics::RefreshProcess() {
  absl::StatusOr<internal::ProcessStats> stats = internal::ReadSelfProcessStats();
  if (!stats.ok()) return;  // not Linux, or /proc hidden: the process gauges stay as they were
  process_rss_->Set(stats->resident_memory_bytes);
  process_vsize_->Set(stats->virtual_memory_bytes);
  process_open_fds_->Set(stats->open_fds);
  process_max_fds_->Set(stats->max_fds);
  process_start_time_->Set(stats->start_time_seconds);
  if (stats->cpu_seconds > process_cpu_seen_) {
    process_cpu_->Increment(stats->cpu_seconds - process_cpu_seen_);
    process_cpu_seen_ = stats->cpu_seconds;
  }
}

void Metrics::SetScrapeCallback(std::function<void(Metrics&)> callback) {
  absl::MutexLock lock(&refresh_mu_);
  scrape_callback_ = std::move(callback);
}

void Metrics::ClearScrapeSources() {
  absl::MutexLock lock(&refresh_mu_);  // waits for a scrape in progress
  tier_source_ = nullptr;
  scrape_callback_ = nullptr;
}

void Metrics::Refresh() {
  RefreshTiers();
  absl::MutexLock lock(&refresh_mu_);
  RefreshProcess();
  // The callback only sets gauges (their own atomics), never calls back into Refresh.
  if (scrape_callback_) scrape_callback_(*this);
}

// ---- Exposition.

absl::Status Metrics::StartExposer(const std::string& address) {
  if (exposer_ != nullptr) {
    return absl::FailedPreconditionError("the metrics exposer is already started");
  }
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/2);
  } catch (const CivetException& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, " (port in use?): ", e.what()));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(collectable_);
  return absl::OkStatus();
}

int Metrics::exposer_port() const {
  if (exposer_ == nullptr) return 0;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

std::string Metrics::TextExposition() {
  return prometheus::TextSerializer().Serialize(collectable_->Collect());
}

// ---- RpcTimer.

RpcTimer::RpcTimer(Metrics* metrics, RpcMethod method)
    : metrics_(metrics), method_(method), start_(std::chrono::steady_clock::now()) {
  if (metrics_ != nullptr) metrics_->RpcStarted(method_);
}

RpcTimer::~RpcTimer() {
  if (!finished_) Finish(absl::StatusCode::kCancelled);
}

void RpcTimer::Finish(absl::StatusCode code) {
  if (finished_) return;
  finished_ = true;
  if (metrics_ == nullptr) return;
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
  metrics_->ObserveRpc(method_, code, elapsed.count());
}

}  // namespace gearkv::metrics
