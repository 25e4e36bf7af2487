// The families of the server's resources: worker pools, store tiers, the build and the process.
#include <memory>
#include <string>

#include "families.h"

namespace gearkv::metrics::internal {

WorkerPoolChildren BuildWorkerPoolFamilies(Registry& registry,
                                           const std::vector<std::string>& pools) {
  WorkerPoolChildren children;
  children.queue_depth =
      &GaugeFamily(registry, "gearkv_worker_pool_queue_depth", "Codec tasks waiting for a worker.")
           .Add({});
  children.workers = &GaugeFamily(registry, "gearkv_worker_pool_workers",
                                  "Workers (CPU threads or CUDA streams) running codec tasks.")
                          .Add({});
  children.queue_capacity =
      &GaugeFamily(registry, "gearkv_worker_pool_queue_capacity",
                   "Tasks the worker pool queues before answering RESOURCE_EXHAUSTED.")
           .Add({});
  auto& rejected = CounterFamily(
      registry, "gearkv_worker_pool_rejected_total",
      "Work refused by a worker pool whose workers and queue were full (the call answered "
      "RESOURCE_EXHAUSTED), by pool.");
  for (const std::string& pool : pools) {
    children.rejected.try_emplace(pool, &rejected.Add({{"pool", pool}}));
  }
  return children;
}

StoreFamilies BuildStoreFamilies(Registry& registry) {
  return {
      &GaugeFamily(registry, "gearkv_store_bytes", "Bytes held by a store tier (keys and values)."),
      &GaugeFamily(registry, "gearkv_store_capacity_bytes", "Byte budget of a store tier."),
      &GaugeFamily(registry, "gearkv_store_blocks", "Blocks held by a store tier."),
      &CounterFamily(registry, "gearkv_store_hits_total",
                     "Gets that found their block in a store tier."),
      &CounterFamily(registry, "gearkv_store_misses_total",
                     "Gets that did not find their block in a store tier."),
      &CounterFamily(registry, "gearkv_store_evictions_total",
                     "Blocks evicted from a store tier to stay in budget."),
      &CounterFamily(registry, "gearkv_store_expirations_total",
                     "Blocks dropped from a store tier when their TTL ran out."),
  };
}

std::unique_ptr<TierChildren> AddTier(const StoreFamilies& families, const std::string& tier) {
  const prometheus::Labels labels = {{"tier", tier}};
  return std::make_unique<TierChildren>(TierChildren{
      &families.bytes->Add(labels), &families.capacity->Add(labels), &families.blocks->Add(labels),
      &families.hits->Add(labels), &families.misses->Add(labels), &families.evictions->Add(labels),
      &families.expirations->Add(labels), TierSample{}});
}

ProcessChildren BuildProcessFamilies(Registry& registry, const std::string& version) {
  GaugeFamily(registry, "gearkv_build_info", "Always 1; the labels describe the running build.")
      .Add({{"version", version}})
      .Set(1);
  return {
      &GaugeFamily(registry, "process_resident_memory_bytes", "Resident memory size in bytes.")
           .Add({}),
      &GaugeFamily(registry, "process_virtual_memory_bytes", "Virtual memory size in bytes.")
           .Add({}),
      &CounterFamily(registry, "process_cpu_seconds_total",
                     "Total user and system CPU time spent in seconds.")
           .Add({}),
      &GaugeFamily(registry, "process_open_fds", "Number of open file descriptors.").Add({}),
      &GaugeFamily(registry, "process_max_fds", "Maximum number of open file descriptors.").Add({}),
      &GaugeFamily(registry, "process_start_time_seconds",
                   "Start time of the process since unix epoch in seconds.")
           .Add({}),
  };
}

}  // namespace gearkv::metrics::internal
