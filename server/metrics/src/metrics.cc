#include "gearkv/metrics/metrics.h"

#include <CivetServer.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "families.h"
#include "gearkv/base/strings.h"
#include "gearkv/version.h"
#include "process_stats.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/text_serializer.h"

namespace gearkv::metrics {
namespace {

// Debian's abseil is built with its own string_view type, distinct from std::string_view.

// Adds the increase of a running total to `counter`. A total that went down means the tier
// restarted from zero: its whole new value is the increase.
void FollowTotal(prometheus::Counter* counter, uint64_t now, uint64_t* seen) {
  const uint64_t increase = now >= *seen ? now - *seen : now;
  if (increase > 0) counter->Increment(static_cast<double>(increase));
  *seen = now;
}

}  // namespace

// Registration order is the order of the families in the exposition (within each metric type).
struct Metrics::Families {
  Families(prometheus::Registry& registry, const MetricsOptions& options)
      : rpc(internal::BuildRpcFamilies(registry)),
        bytes(internal::BuildByteFamilies(registry)),
        presets(internal::BuildPresetFamilies(registry, options.presets)),
        codec(internal::BuildCodecFamilies(registry, options.backends)),
        pools(internal::BuildWorkerPoolFamilies(registry, options.pools)),
        store(internal::BuildStoreFamilies(registry)),
        process(internal::BuildProcessFamilies(
            registry, options.version.empty() ? std::string(kVersion) : options.version)) {}

  const internal::PresetChildren& PresetFor(std::string_view preset) const {
    auto it = presets.find(ToAbsl(preset));
    if (it == presets.end()) it = presets.find(ToAbsl(internal::kOtherPreset));
    return it->second;
  }

  internal::RpcChildren rpc;
  internal::ByteChildren bytes;
  absl::flat_hash_map<std::string, internal::PresetChildren> presets;
  absl::flat_hash_map<std::string, internal::CodecChildrenByOp> codec;
  internal::WorkerPoolChildren pools;
  internal::StoreFamilies store;
  internal::ProcessChildren process;
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
          std::make_shared<prometheus::Registry>(prometheus::Registry::InsertBehavior::Throw)),
      families_(std::make_unique<const Families>(*registry_, options)) {
  {
    MutexLock lock(&refresh_mu_);
    for (const std::string& tier : options.tiers) TierChildrenFor(tier);
    RefreshProcess();
  }
  collectable_ = std::make_shared<ScrapeCollectable>(this);
}

Metrics::~Metrics() = default;

// ---- RPCs.

void Metrics::RpcStarted(RpcMethod method) {
  const int m = static_cast<int>(method);
  families_->rpc.started[m]->Increment();
  families_->rpc.inflight[m]->Increment();
}

void Metrics::ObserveRpc(RpcMethod method, absl::StatusCode code, double seconds) {
  const int m = static_cast<int>(method);
  int c = static_cast<int>(code);
  if (c < 0 || c >= internal::kNumStatusCodes) c = static_cast<int>(absl::StatusCode::kUnknown);
  families_->rpc.handled[m][c]->Increment();
  families_->rpc.handling_seconds[m]->Observe(seconds);
  families_->rpc.inflight[m]->Decrement();
}

void Metrics::ObserveBatch(RpcMethod method, uint32_t blocks) {
  prometheus::Histogram* histogram = families_->rpc.batch_blocks[static_cast<int>(method)];
  if (histogram != nullptr) histogram->Observe(blocks);
}

void Metrics::ObserveBatchKey(RpcMethod method, absl::StatusCode code) {
  int c = static_cast<int>(code);
  if (c < 0 || c >= internal::kNumStatusCodes) c = static_cast<int>(absl::StatusCode::kUnknown);
  prometheus::Counter* counter = families_->rpc.batch_keys[static_cast<int>(method)][c];
  if (counter != nullptr) counter->Increment();
}

// ---- Bytes.

void Metrics::ObserveReceived(uint64_t raw_bytes, uint64_t wire_bytes) {
  families_->bytes.received_raw->Increment(static_cast<double>(raw_bytes));
  families_->bytes.received_wire->Increment(static_cast<double>(wire_bytes));
}

void Metrics::ObserveSent(uint64_t raw_bytes, uint64_t wire_bytes) {
  families_->bytes.sent_raw->Increment(static_cast<double>(raw_bytes));
  families_->bytes.sent_wire->Increment(static_cast<double>(wire_bytes));
}

// ---- Compression.

void Metrics::ObservePut(std::string_view preset, uint64_t raw_bytes, uint64_t stored_bytes,
                         std::optional<double> relative_error) {
  const internal::PresetChildren& p = families_->PresetFor(preset);
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
  auto it = families_->codec.find(ToAbsl(backend));
  if (it == families_->codec.end()) return;
  const internal::CodecChildren& c = it->second[static_cast<int>(op)];
  c.seconds->Observe(seconds);
  c.raw_bytes->Increment(static_cast<double>(raw_bytes));
}

// ---- Worker pools.

void Metrics::SetWorkerPoolQueueDepth(int64_t tasks) {
  families_->pools.queue_depth->Set(static_cast<double>(tasks));
}

void Metrics::SetWorkerPoolSize(int64_t workers, int64_t queue_capacity) {
  families_->pools.workers->Set(static_cast<double>(workers));
  families_->pools.queue_capacity->Set(static_cast<double>(queue_capacity));
}

void Metrics::ObservePoolRejected(std::string_view pool) {
  auto it = families_->pools.rejected.find(ToAbsl(pool));
  if (it != families_->pools.rejected.end()) it->second->Increment();
}

// ---- Store tiers and process (pull-style).

void Metrics::SetTierStatsSource(std::function<std::vector<TierSample>()> source) {
  {
    MutexLock lock(&refresh_mu_);
    tier_source_ = std::move(source);
  }
  RefreshTiers();
}

internal::TierChildren& Metrics::TierChildrenFor(const std::string& tier) {
  auto it = tiers_.find(tier);
  if (it != tiers_.end()) return *it->second;
  return *tiers_.emplace(tier, internal::AddTier(families_->store, tier)).first->second;
}

void Metrics::RefreshTiers() {
  MutexLock lock(&refresh_mu_);
  if (!tier_source_) return;
  for (const TierSample& sample : tier_source_()) {
    internal::TierChildren& t = TierChildrenFor(sample.tier);
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
  const internal::ProcessChildren& p = families_->process;
  p.resident_memory->Set(stats->resident_memory_bytes);
  p.virtual_memory->Set(stats->virtual_memory_bytes);
  p.open_fds->Set(stats->open_fds);
  p.max_fds->Set(stats->max_fds);
  p.start_time->Set(stats->start_time_seconds);
  if (stats->cpu_seconds > process_cpu_seen_) {
    p.cpu_seconds->Increment(stats->cpu_seconds - process_cpu_seen_);
    process_cpu_seen_ = stats->cpu_seconds;
  }
}

void Metrics::Refresh() {
  RefreshTiers();
  MutexLock lock(&refresh_mu_);
  RefreshProcess();
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

}  // namespace gearkv::metrics
