// The metric families of Metrics, by group, and the builder of each group. A builder registers
// its group's families in the registry and creates every child whose label values are known up
// front; Metrics (metrics.cc) holds what the builders return and only reads it afterwards.
//
// Thread-safety: builders run in the Metrics constructor, before the registry is shared.
#ifndef GEARKV_METRICS_SRC_FAMILIES_H_
#define GEARKV_METRICS_SRC_FAMILIES_H_

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gearkv/metrics/metrics.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace gearkv::metrics::internal {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Registry;

// The canonical status codes, 0 (OK) .. 16 (UNAUTHENTICATED); absl and gRPC number them alike.
inline constexpr int kNumStatusCodes = 17;

// The preset label value of every preset not named in MetricsOptions::presets.
inline constexpr std::string_view kOtherPreset = "other";

// Registers one family of the type.
inline Family<Counter>& CounterFamily(Registry& registry, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}
inline Family<Gauge>& GaugeFamily(Registry& registry, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}
inline Family<Histogram>& HistogramFamily(Registry& registry, const char* name, const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

// 50 us .. 10 s: a Lookup on a warm memory tier up to a 1 GiB put on a busy CPU codec.
Histogram::BucketBoundaries LatencyBuckets();

// ---- RPCs (rpc_families.cc): the go-grpc-prometheus metrics, by method (and code).
struct RpcChildren {
  std::array<Counter*, kNumRpcMethods> started{};
  std::array<std::array<Counter*, kNumStatusCodes>, kNumRpcMethods> handled{};
  std::array<Histogram*, kNumRpcMethods> handling_seconds{};
  std::array<Gauge*, kNumRpcMethods> inflight{};
  // Batched methods only (null for the others).
  std::array<Histogram*, kNumRpcMethods> batch_blocks{};
  std::array<std::array<Counter*, kNumStatusCodes>, kNumRpcMethods> batch_keys{};
};
RpcChildren BuildRpcFamilies(Registry& registry);

// Payload bytes of Put and Get, raw and as sent.
struct ByteChildren {
  Counter* received_raw;
  Counter* received_wire;
  Counter* sent_raw;
  Counter* sent_wire;
};
ByteChildren BuildByteFamilies(Registry& registry);

// ---- Compression (compression_families.cc): stored blocks by preset, codec calls by backend.
struct PresetChildren {
  Counter* raw_bytes;
  Counter* stored_bytes;
  Histogram* ratio;
  Histogram* relative_error;
  Histogram* block_size;
};
// Children for each of `presets` and kOtherPreset.
absl::flat_hash_map<std::string, PresetChildren> BuildPresetFamilies(
    Registry& registry, const std::vector<std::string>& presets);

struct CodecChildren {
  Histogram* seconds;
  Counter* raw_bytes;
};
// Per backend, indexed by CodecOp.
using CodecChildrenByOp = std::array<CodecChildren, 2>;
absl::flat_hash_map<std::string, CodecChildrenByOp> BuildCodecFamilies(
    Registry& registry, const std::vector<std::string>& backends);

// ---- The server's resources (resource_families.cc): worker pools, store tiers, the process.
struct WorkerPoolChildren {
  Gauge* queue_depth;
  Gauge* workers;
  Gauge* queue_capacity;
  absl::flat_hash_map<std::string, Counter*> rejected;  // by pool name
};
WorkerPoolChildren BuildWorkerPoolFamilies(Registry& registry,
                                           const std::vector<std::string>& pools);

// Tier children are created when a tier first appears (Metrics::TierChildrenFor).
struct StoreFamilies {
  Family<Gauge>* bytes;
  Family<Gauge>* capacity;
  Family<Gauge>* blocks;
  Family<Counter>* hits;
  Family<Counter>* misses;
  Family<Counter>* evictions;
  Family<Counter>* expirations;
};
StoreFamilies BuildStoreFamilies(Registry& registry);

struct TierChildren {
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
std::unique_ptr<TierChildren> AddTier(const StoreFamilies& families, const std::string& tier);

// gearkv_build_info{version} (set to 1) and the process_* gauges of the Prometheus clients'
// process collector.
struct ProcessChildren {
  Gauge* resident_memory;
  Gauge* virtual_memory;
  Counter* cpu_seconds;
  Gauge* open_fds;
  Gauge* max_fds;
  Gauge* start_time;
};
ProcessChildren BuildProcessFamilies(Registry& registry, const std::string& version);

}  // namespace gearkv::metrics::internal

#endif  // GEARKV_METRICS_SRC_FAMILIES_H_
