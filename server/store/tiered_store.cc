#include "gearkv/store/tiered_store.h"

#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace gearkv::store {

absl::StatusOr<LowerTierPolicy> ParseLowerTierPolicy(std::string_view name) {
  if (name == "write_through") return LowerTierPolicy::kWriteThrough;
  if (name == "spill_on_evict") return LowerTierPolicy::kSpillOnEvict;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown disk policy '", std::string(name),
                   "': expected 'write_through' or 'spill_on_evict'"));
}

std::string_view LowerTierPolicyName(LowerTierPolicy policy) {
  switch (policy) {
    case LowerTierPolicy::kWriteThrough:
      return "write_through";
    case LowerTierPolicy::kSpillOnEvict:
      return "spill_on_evict";
  }
  return "unknown";
}

TieredStore::TieredStore(std::unique_ptr<MemoryStore> memory, std::unique_ptr<BlockStore> lower,
                         TieredStoreOptions options)
    : policy_(options.policy), memory_(std::move(memory)), lower_(std::move(lower)) {
  if (lower_ != nullptr && policy_ == LowerTierPolicy::kSpillOnEvict) {
    memory_->SetEvictionCallback([this](const BlockKey& key, const BlockBytes& bytes,
                                        absl::Time expires_at) { Spill(key, bytes, expires_at); });
  } else {
    memory_->SetEvictionCallback(nullptr);
  }
}

TieredStore::~TieredStore() = default;

Mutex& TieredStore::StripeFor(const BlockKey& key) {
  return stripes_[absl::Hash<BlockKey>{}(key) % kKeyStripes];
}

void TieredStore::Spill(const BlockKey& key, const BlockBytes& bytes, absl::Time expires_at) {
  // Runs on the evicting thread, with no MemoryStore lock held; the block stays readable in
  // memory until this returns.
  if (!lower_->Put(key, bytes, expires_at).ok()) {
    spill_failures_.fetch_add(1, std::memory_order_relaxed);
  }
}

absl::Status TieredStore::Put(const BlockKey& key, BlockBytes bytes, absl::Time expires_at) {
  if (bytes == nullptr) return absl::InvalidArgumentError("store: Put of a null block");
  MutexLock stripe(&StripeFor(key));
  if (lower_ == nullptr) return memory_->Put(key, std::move(bytes), expires_at);

  if (policy_ == LowerTierPolicy::kWriteThrough) {
    if (absl::Status lower = lower_->Put(key, bytes, expires_at); !lower.ok()) return lower;
    if (!memory_->Put(key, std::move(bytes), expires_at).ok()) {
      // Too large for memory: the lower tier has it; make sure memory holds no older version.
      if (absl::StatusOr<bool> removed = memory_->Delete(key); !removed.ok()) {
        return removed.status();
      }
    }
    return absl::OkStatus();
  }

  // spill_on_evict. Remove the old version from memory first: that waits for a spill of it in
  // flight, so once the lower tier's copy is removed next, no stale copy can land there (only
  // this Put can bring the key back into memory while the stripe is held).
  if (absl::StatusOr<bool> removed = memory_->Delete(key); !removed.ok()) return removed.status();
  if (lower_->Contains(key)) {
    if (absl::StatusOr<bool> removed = lower_->Delete(key); !removed.ok()) {
      return removed.status();
    }
  }
  if (memory_->Put(key, bytes, expires_at).ok()) return absl::OkStatus();
  return lower_->Put(key, std::move(bytes), expires_at);  // too large for memory
}

absl::StatusOr<BlockBytes> TieredStore::Get(const BlockKey& key) {
  absl::StatusOr<StoredBlock> block = GetWithExpiry(key);
  if (!block.ok()) return block.status();
  return std::move(block->bytes);
}

absl::StatusOr<StoredBlock> TieredStore::GetWithExpiry(const BlockKey& key) {
  absl::StatusOr<StoredBlock> in_memory = memory_->GetWithExpiry(key);
  if (in_memory.ok() || lower_ == nullptr || !absl::IsNotFound(in_memory.status())) {
    return in_memory;
  }
  // Lower tier read and promotion under the key's stripe: no Put or Delete of this key can
  // slip between them.
  MutexLock stripe(&StripeFor(key));
  absl::StatusOr<StoredBlock> below = lower_->GetWithExpiry(key);
  if (!below.ok()) return below.status();
  // Best effort: a block that does not fit in memory is still served from below.
  memory_->Put(key, below->bytes, below->expires_at).IgnoreError();
  return below;
}

bool TieredStore::Contains(const BlockKey& key) {
  return memory_->Contains(key) || (lower_ != nullptr && lower_->Contains(key));
}

absl::StatusOr<bool> TieredStore::Delete(const BlockKey& key) {
  MutexLock stripe(&StripeFor(key));
  // Memory first: its Delete waits for a spill of this key in flight, which the lower tier's
  // Delete then removes.
  absl::StatusOr<bool> in_memory = memory_->Delete(key);
  if (lower_ == nullptr) return in_memory;
  absl::StatusOr<bool> below = lower_->Delete(key);
  if (!in_memory.ok()) return in_memory.status();
  if (!below.ok()) return below.status();
  return *in_memory || *below;
}

std::vector<TierStats> TieredStore::Stats() {
  std::vector<TierStats> stats = memory_->Stats();
  if (lower_ != nullptr) {
    for (TierStats& tier : lower_->Stats()) stats.push_back(std::move(tier));
  }
  return stats;
}

}  // namespace gearkv::store
