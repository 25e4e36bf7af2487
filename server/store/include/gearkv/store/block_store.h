// The storage tiers behind the service: bytes in, bytes out. A store knows nothing about the
// codec; it keeps opaque blocks under (namespace, key) with an optional expiry.
//
// Tiers: MemoryStore (byte budget, LRU eviction, TTL, sharded locks), DiskStore (RocksDB, byte
// budget, survives restarts, every block verified on read), and TieredStore, which composes
// them: Get looks in memory, then disk, and promotes hits to memory.
//
// Thread-safety: every BlockStore method may be called concurrently from any thread.
#ifndef GEARKV_STORE_BLOCK_STORE_H_
#define GEARKV_STORE_BLOCK_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gearkv::store {

// Identifies a block. Namespaces scope keys: ("m1", "k") and ("m2", "k") are different blocks.
struct BlockKey {
  std::string ns;
  std::string key;
  bool operator==(const BlockKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const BlockKey& k) {
    return H::combine(std::move(h), k.ns, k.key);
  }
};

// Immutable stored bytes, shared so that a Get can stream a block while it is evicted.
using BlockBytes = std::shared_ptr<const std::string>;

// A block together with its expiry, as returned by BlockStore::GetWithExpiry.
struct StoredBlock {
  BlockBytes bytes;
  absl::Time expires_at = absl::InfiniteFuture();
};

// Counters and gauges of one tier, for Stats and metrics.
struct TierStats {
  std::string tier;  // "memory", "disk", "remote"
  uint64_t blocks = 0;
  uint64_t bytes = 0;           // stored bytes (keys + values)
  uint64_t capacity_bytes = 0;  // the budget
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t expirations = 0;
};

// The event counts a tier reports in TierStats. Lock-free; any thread may count.
struct TierCounters {
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> evictions{0};
  std::atomic<uint64_t> expirations{0};

  // Copies the counts into `stats` (each read on its own: a snapshot, not a transaction).
  void CopyTo(TierStats& stats) const {
    stats.hits = hits.load(std::memory_order_relaxed);
    stats.misses = misses.load(std::memory_order_relaxed);
    stats.evictions = evictions.load(std::memory_order_relaxed);
    stats.expirations = expirations.load(std::memory_order_relaxed);
  }
};

class BlockStore {
 public:
  virtual ~BlockStore() = default;

  // Stores `bytes` under `key`, replacing any block there (idempotent). `expires_at` =
  // absl::InfiniteFuture() for no expiry. RESOURCE_EXHAUSTED when the block cannot fit even
  // after evicting everything evictable; on any error the previous block (if any) is untouched
  // or removed, never half-written.
  [[nodiscard]] virtual absl::Status Put(const BlockKey& key, BlockBytes bytes,
                                         absl::Time expires_at) = 0;

  // The block under `key`: NOT_FOUND when absent or expired (an expired block is dropped),
  // DATA_LOSS when it failed verification (it is dropped too).
  [[nodiscard]] virtual absl::StatusOr<BlockBytes> Get(const BlockKey& key) = 0;

  // Like Get, but also returns the block's expiry (what a TieredStore needs to promote a hit
  // with its TTL intact). The default implementation calls Get and reports no expiry; tiers that
  // know the expiry override it.
  [[nodiscard]] virtual absl::StatusOr<StoredBlock> GetWithExpiry(const BlockKey& key) {
    absl::StatusOr<BlockBytes> bytes = Get(key);
    if (!bytes.ok()) return bytes.status();
    return StoredBlock{*std::move(bytes), absl::InfiniteFuture()};
  }

  // Whether a live block is under `key`, without counting a hit or miss or touching LRU order.
  virtual bool Contains(const BlockKey& key) = 0;

  // Removes the block; returns whether one was there.
  virtual absl::StatusOr<bool> Delete(const BlockKey& key) = 0;

  // One entry per tier, first tier first.
  virtual std::vector<TierStats> Stats() = 0;
};

}  // namespace gearkv::store

#endif  // GEARKV_STORE_BLOCK_STORE_H_
