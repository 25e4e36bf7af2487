// TieredStore: a MemoryStore in front of an optional lower tier (a DiskStore, or any
// BlockStore), behind the one BlockStore interface.
//
// Policies for the lower tier:
//   write_through   Put writes the lower tier first, then memory. Memory evictions are dropped
//                   (the lower tier already holds the block).
//   spill_on_evict  Put writes memory only (and removes an older copy from the lower tier);
//                   a block evicted from memory is written to the lower tier then.
// A block too large for memory (RESOURCE_EXHAUSTED there) goes to the lower tier alone, under
// either policy; the Put fails only when no tier could take it.
//
// Get looks in memory, then the lower tier, and promotes a lower-tier hit to memory (with its
// expiry; a failed promotion is not an error). Delete removes from every tier; Contains asks
// every tier; Stats returns the memory tier's entry then the lower tier's.
//
// Consistency under concurrency: Put, Delete and the miss-then-promote path of Get hold a lock
// striped by key, so a promotion can never reinstate a block that a concurrent Put replaced or
// a Delete removed. A spill runs while the evicted block is still readable in memory, and a
// Delete of that key waits for it (see MemoryStore), so a Delete cannot be undone by a spill.
// A spill_on_evict Put removes the old version from memory, then from the lower tier, then
// writes the new one, so a Get racing with a replacing Put may miss (never returns stale data).
//
// Thread-safety: all methods may be called concurrently.
#ifndef GEARKV_STORE_TIERED_STORE_H_
#define GEARKV_STORE_TIERED_STORE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gearkv/base/mutex.h"
#include "gearkv/store/block_store.h"
#include "gearkv/store/memory_store.h"

namespace gearkv::store {

enum class LowerTierPolicy { kWriteThrough, kSpillOnEvict };

// "write_through" or "spill_on_evict"; INVALID_ARGUMENT otherwise.
[[nodiscard]] absl::StatusOr<LowerTierPolicy> ParseLowerTierPolicy(std::string_view name);
std::string_view LowerTierPolicyName(LowerTierPolicy policy);

struct TieredStoreOptions {
  LowerTierPolicy policy = LowerTierPolicy::kWriteThrough;
};

class TieredStore final : public BlockStore {
 public:
  // `memory` is required; `lower` may be null (memory only). Installs `memory`'s eviction
  // callback (replacing any), so construct this before sharing `memory` with other threads.
  TieredStore(std::unique_ptr<MemoryStore> memory, std::unique_ptr<BlockStore> lower,
              TieredStoreOptions options);
  ~TieredStore() override;

  TieredStore(const TieredStore&) = delete;
  TieredStore& operator=(const TieredStore&) = delete;

  [[nodiscard]] absl::Status Put(const BlockKey& key, BlockBytes bytes,
                                 absl::Time expires_at) override;
  [[nodiscard]] absl::StatusOr<BlockBytes> Get(const BlockKey& key) override;
  [[nodiscard]] absl::StatusOr<StoredBlock> GetWithExpiry(const BlockKey& key) override;
  bool Contains(const BlockKey& key) override;
  absl::StatusOr<bool> Delete(const BlockKey& key) override;
  // The memory tier's entry, then the lower tier's (if any).
  std::vector<TierStats> Stats() override;

  LowerTierPolicy policy() const { return policy_; }
  // Blocks evicted from memory that the lower tier refused (spill_on_evict only).
  uint64_t spill_failures() const { return spill_failures_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kKeyStripes = 256;

  Mutex& StripeFor(const BlockKey& key);
  void Spill(const BlockKey& key, const BlockBytes& bytes, absl::Time expires_at);

  const LowerTierPolicy policy_;
  std::unique_ptr<MemoryStore> memory_;
  std::unique_ptr<BlockStore> lower_;
  std::array<Mutex, kKeyStripes> stripes_;
  std::atomic<uint64_t> spill_failures_{0};
};

}  // namespace gearkv::store

#endif  // GEARKV_STORE_TIERED_STORE_H_
