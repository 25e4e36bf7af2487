// MemoryStore: the in-memory tier. Blocks live in RAM under a byte budget, least recently used
// blocks are evicted first, blocks past their expiry are invisible and dropped.
//
// Budget: one global atomic byte counter, charged `ns.size() + key.size() + value.size()` per
// block. A Put first reserves its bytes on the counter (evicting until the reservation fits),
// then inserts, so the counter is an upper bound of what is stored and never exceeds the
// capacity. A block larger than the capacity is RESOURCE_EXHAUSTED.
//
// Eviction order: each shard keeps an exact LRU list; every access stamps the entry with a
// global tick. To evict, the store looks at the least recently used entry of every shard and
// evicts the oldest of those, which is the global LRU entry (exact when single-threaded,
// approximate under concurrent access). Expired entries are dropped on access, by a periodic
// per-shard sweep (at most once per `sweep_interval`, done by Puts), and preferentially when
// they reach the eviction point.
//
// Eviction callback: called for each block evicted to make room (not for expired, deleted or
// replaced blocks), outside every lock, on the thread whose Put needed the room. While it runs
// the block stays readable (Get/Contains still see it and its bytes stay charged); a Delete or
// Put of the same key waits for the callback to return. That is what lets a TieredStore spill
// evicted blocks to disk without a window where a concurrent Delete could be undone.
//
// Thread-safety: all methods may be called concurrently. N shards by hash of the key, each with
// its own mutex; the data path (Get, Contains, Delete, Put without eviction) locks one shard.
#ifndef GEARKV_STORE_MEMORY_STORE_H_
#define GEARKV_STORE_MEMORY_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gearkv/store/block_store.h"

namespace gearkv::store {

// Called with a block evicted to make room. Must not call back into the same MemoryStore.
using EvictionCallback =
    std::function<void(const BlockKey& key, const BlockBytes& bytes, absl::Time expires_at)>;

struct MemoryStoreOptions {
  uint64_t capacity_bytes = uint64_t{1} << 30;
  // Number of lock shards (at least 1).
  int num_shards = 16;
  // The time source for expiry; tests inject a fake clock.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // How often a shard is swept for expired blocks (by the next Put into it).
  absl::Duration sweep_interval = absl::Seconds(1);
  // Optional; see the file comment.
  EvictionCallback on_evict = nullptr;
};

class MemoryStore final : public BlockStore {
 public:
  explicit MemoryStore(MemoryStoreOptions options);
  ~MemoryStore() override;

  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // Replaces the eviction callback. Not thread-safe: call before the store is shared.
  void SetEvictionCallback(EvictionCallback on_evict);

  [[nodiscard]] absl::Status Put(const BlockKey& key, BlockBytes bytes,
                                 absl::Time expires_at) override;
  [[nodiscard]] absl::StatusOr<BlockBytes> Get(const BlockKey& key) override;
  [[nodiscard]] absl::StatusOr<StoredBlock> GetWithExpiry(const BlockKey& key) override;
  bool Contains(const BlockKey& key) override;
  absl::StatusOr<bool> Delete(const BlockKey& key) override;
  // One entry, tier "memory".
  std::vector<TierStats> Stats() override;

  uint64_t capacity_bytes() const { return capacity_bytes_; }

 private:
  struct Shard;
  // What is stored (listed or being evicted). Always <= reserved_bytes_: bytes are reserved
  // before they are added here and removed here before they are released.
  struct Usage {
    void Add(uint64_t charge) {
      bytes.fetch_add(charge, std::memory_order_acq_rel);
      blocks.fetch_add(1, std::memory_order_acq_rel);
    }
    void Remove(uint64_t charge) {
      bytes.fetch_sub(charge, std::memory_order_acq_rel);
      blocks.fetch_sub(1, std::memory_order_acq_rel);
    }
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> blocks{0};
  };

  Shard& ShardFor(const BlockKey& key);
  // Reserves `charge` bytes on the global counter, evicting as needed.
  absl::Status Reserve(uint64_t charge, const BlockKey& key);
  // Evicts the globally least recently used block; false when nothing is evictable.
  bool EvictOne();
  void Release(uint64_t charge);

  const uint64_t capacity_bytes_;
  const std::function<absl::Time()> clock_;
  const absl::Duration sweep_interval_;
  EvictionCallback on_evict_;
  std::vector<std::unique_ptr<Shard>> shards_;

  std::atomic<uint64_t> reserved_bytes_{0};  // charged bytes, stored or about to be
  Usage usage_;
  std::atomic<uint64_t> tick_{0};  // LRU clock
  TierCounters counters_;
};

}  // namespace gearkv::store

#endif  // GEARKV_STORE_MEMORY_STORE_H_
