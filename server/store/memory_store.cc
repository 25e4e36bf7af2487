#include "gearkv/store/memory_store.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <list>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gearkv/base/mutex.h"

namespace gearkv::store {
namespace {

uint64_t ChargeOf(const BlockKey& key, const BlockBytes& bytes) {
  return key.ns.size() + key.key.size() + bytes->size();
}

// How long a Put waits for other threads' in-flight evictions before it gives up.
constexpr absl::Duration kMaxReserveWait = absl::Milliseconds(200);

}  // namespace

// One lock shard: an exact LRU list of its blocks plus the blocks whose eviction callback runs.
struct MemoryStore::Shard {
  explicit Shard(Usage& store_usage) : usage(store_usage) {}

  struct Entry {
    BlockKey key;
    BlockBytes bytes;
    absl::Time expires_at;
    uint64_t charge = 0;
    uint64_t tick = 0;  // last access, on the store's global LRU clock
  };
  using List = std::list<Entry>;

  // Removes a listed entry; returns its charge.
  uint64_t Unlink(List::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const uint64_t charge = it->charge;
    index.erase(it->key);
    lru.erase(it);
    usage.Remove(charge);
    return charge;
  }

  // Drops every expired listed entry; returns the bytes freed and adds the count to `dropped`.
  uint64_t SweepExpired(absl::Time now, uint64_t& dropped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint64_t freed = 0;
    for (auto it = lru.begin(); it != lru.end();) {
      auto next = std::next(it);
      if (it->expires_at <= now) {
        freed += Unlink(it);
        ++dropped;
      }
      it = next;
    }
    return freed;
  }

  // Blocks until no eviction callback for `key` is running.
  void WaitForEviction(const BlockKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    while (evicting.contains(key)) eviction_done.Wait(&mu);
  }

  Mutex mu;
  List lru ABSL_GUARDED_BY(mu);  // front = most recently used
  absl::flat_hash_map<BlockKey, List::iterator> index ABSL_GUARDED_BY(mu);
  // Blocks handed to the eviction callback, still readable and charged until it returns.
  absl::flat_hash_map<BlockKey, Entry> evicting ABSL_GUARDED_BY(mu);
  CondVar eviction_done;
  Usage& usage;  // the store's, counts `lru` and `evicting`
  absl::Time next_sweep ABSL_GUARDED_BY(mu) = absl::InfinitePast();
};

MemoryStore::MemoryStore(MemoryStoreOptions options)
    : capacity_bytes_(options.capacity_bytes),
      clock_(options.clock ? std::move(options.clock) : [] { return absl::Now(); }),
      sweep_interval_(options.sweep_interval),
      on_evict_(std::move(options.on_evict)) {
  const int num_shards = std::max(1, options.num_shards);
  shards_.reserve(num_shards);
  for (int i = 0; i < num_shards; ++i) shards_.push_back(std::make_unique<Shard>(usage_));
}

MemoryStore::~MemoryStore() = default;

void MemoryStore::SetEvictionCallback(EvictionCallback on_evict) {
  on_evict_ = std::move(on_evict);
}

MemoryStore::Shard& MemoryStore::ShardFor(const BlockKey& key) {
  // High bits: the shard's hash map uses the low ones.
  const uint64_t h = absl::Hash<BlockKey>{}(key);
  return *shards_[(h >> 40) % shards_.size()];
}

void MemoryStore::Release(uint64_t charge) {
  if (charge > 0) reserved_bytes_.fetch_sub(charge, std::memory_order_acq_rel);
}

absl::Status MemoryStore::Put(const BlockKey& key, BlockBytes bytes, absl::Time expires_at) {
  if (bytes == nullptr) return absl::InvalidArgumentError("memory store: Put of a null block");
  const uint64_t charge = ChargeOf(key, bytes);
  if (charge > capacity_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("memory tier: block of ", charge, " bytes (key ",
                     key.ns.size() + key.key.size(), " + value ", bytes->size(),
                     ") exceeds the tier's capacity of ", capacity_bytes_, " bytes"));
  }
  Shard& shard = ShardFor(key);

  // Drop the block being replaced first, so that replacing it never evicts other blocks.
  uint64_t freed = 0;
  {
    MutexLock lock(&shard.mu);
    shard.WaitForEviction(key);
    if (auto it = shard.index.find(key); it != shard.index.end()) freed = shard.Unlink(it->second);
  }
  Release(freed);

  const absl::Time now = clock_();
  if (expires_at <= now) return absl::OkStatus();  // already expired: stores nothing

  if (absl::Status reserved = Reserve(charge, key); !reserved.ok()) return reserved;

  uint64_t expired = 0;
  freed = 0;
  {
    MutexLock lock(&shard.mu);
    shard.WaitForEviction(key);
    // A concurrent Put of the same key may have inserted it meanwhile: last writer wins.
    if (auto it = shard.index.find(key); it != shard.index.end()) freed = shard.Unlink(it->second);
    shard.lru.push_front(Shard::Entry{key, std::move(bytes), expires_at, charge,
                                      tick_.fetch_add(1, std::memory_order_relaxed) + 1});
    shard.index.emplace(key, shard.lru.begin());
    usage_.Add(charge);
    if (now >= shard.next_sweep) {
      freed += shard.SweepExpired(now, expired);
      shard.next_sweep = now + sweep_interval_;
    }
  }
  Release(freed);
  if (expired > 0) counters_.expirations.fetch_add(expired, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status MemoryStore::Reserve(uint64_t charge, const BlockKey& key) {
  absl::Time give_up = absl::InfinitePast();
  absl::Duration backoff = absl::Microseconds(50);
  uint64_t current = reserved_bytes_.load(std::memory_order_acquire);
  while (true) {
    if (current + charge <= capacity_bytes_) {
      if (reserved_bytes_.compare_exchange_weak(current, current + charge,
                                                std::memory_order_acq_rel)) {
        return absl::OkStatus();
      }
      continue;  // `current` was reloaded
    }
    if (!EvictOne()) {
      // Nothing left to evict: the rest is held by writes or eviction callbacks in flight on
      // other threads. Give them a moment before failing.
      const absl::Time now = absl::Now();
      if (give_up == absl::InfinitePast()) give_up = now + kMaxReserveWait;
      if (now >= give_up) {
        return absl::ResourceExhaustedError(
            absl::StrCat("memory tier: cannot make room for a block of ", charge,
                         " bytes: ", reserved_bytes_.load(), " of ", capacity_bytes_,
                         " bytes are held by writes in progress"));
      }
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Milliseconds(5));
    }
    current = reserved_bytes_.load(std::memory_order_acquire);
  }
}

bool MemoryStore::EvictOne() {
  // The globally least recently used entry is the oldest of the shards' LRU tails.
  Shard* victim_shard = nullptr;
  uint64_t oldest = std::numeric_limits<uint64_t>::max();
  for (auto& shard : shards_) {
    MutexLock lock(&shard->mu);
    if (!shard->lru.empty() && shard->lru.back().tick < oldest) {
      oldest = shard->lru.back().tick;
      victim_shard = shard.get();
    }
  }
  if (victim_shard == nullptr) return false;

  const absl::Time now = clock_();
  Shard::Entry victim;
  uint64_t freed = 0;
  bool expired = false;
  bool callback = false;
  {
    MutexLock lock(&victim_shard->mu);
    // The tail may have changed since the scan; evicting the current tail is close enough.
    if (victim_shard->lru.empty()) return true;  // someone else freed it; the caller re-checks
    auto it = std::prev(victim_shard->lru.end());
    expired = it->expires_at <= now;
    callback = on_evict_ && !expired;
    if (callback) {
      // Keep the block readable and charged while the callback runs.
      victim = *it;
      victim_shard->index.erase(it->key);
      victim_shard->evicting.emplace(it->key, std::move(*it));
      victim_shard->lru.erase(it);
    } else {
      freed = victim_shard->Unlink(it);
    }
  }
  if (callback) {
    on_evict_(victim.key, victim.bytes, victim.expires_at);
    MutexLock lock(&victim_shard->mu);
    victim_shard->evicting.erase(victim.key);
    usage_.Remove(victim.charge);
    freed = victim.charge;
    victim_shard->eviction_done.SignalAll();
  }
  Release(freed);
  (expired ? counters_.expirations : counters_.evictions).fetch_add(1, std::memory_order_relaxed);
  return true;
}

absl::StatusOr<BlockBytes> MemoryStore::Get(const BlockKey& key) {
  absl::StatusOr<StoredBlock> block = GetWithExpiry(key);
  if (!block.ok()) return block.status();
  return std::move(block->bytes);
}

absl::StatusOr<StoredBlock> MemoryStore::GetWithExpiry(const BlockKey& key) {
  Shard& shard = ShardFor(key);
  const absl::Time now = clock_();
  uint64_t freed = 0;
  {
    MutexLock lock(&shard.mu);
    if (auto found = shard.index.find(key); found != shard.index.end()) {
      auto it = found->second;
      if (it->expires_at > now) {
        it->tick = tick_.fetch_add(1, std::memory_order_relaxed) + 1;
        shard.lru.splice(shard.lru.begin(), shard.lru, it);
        counters_.hits.fetch_add(1, std::memory_order_relaxed);
        return StoredBlock{it->bytes, it->expires_at};
      }
      freed = shard.Unlink(it);
    } else if (auto ev = shard.evicting.find(key);
               ev != shard.evicting.end() && ev->second.expires_at > now) {
      counters_.hits.fetch_add(1, std::memory_order_relaxed);
      return StoredBlock{ev->second.bytes, ev->second.expires_at};
    }
  }
  if (freed > 0) {
    Release(freed);
    counters_.expirations.fetch_add(1, std::memory_order_relaxed);
  }
  counters_.misses.fetch_add(1, std::memory_order_relaxed);
  return absl::NotFoundError("memory tier: no block under this key");
}

bool MemoryStore::Contains(const BlockKey& key) {
  Shard& shard = ShardFor(key);
  const absl::Time now = clock_();
  uint64_t freed = 0;
  {
    MutexLock lock(&shard.mu);
    if (auto found = shard.index.find(key); found != shard.index.end()) {
      if (found->second->expires_at > now) return true;
      freed = shard.Unlink(found->second);
    } else if (auto ev = shard.evicting.find(key); ev != shard.evicting.end()) {
      return ev->second.expires_at > now;
    }
  }
  if (freed > 0) {
    Release(freed);
    counters_.expirations.fetch_add(1, std::memory_order_relaxed);
  }
  return false;
}

absl::StatusOr<bool> MemoryStore::Delete(const BlockKey& key) {
  Shard& shard = ShardFor(key);
  const absl::Time now = clock_();
  uint64_t freed = 0;
  bool live = false;
  {
    MutexLock lock(&shard.mu);
    shard.WaitForEviction(key);
    auto found = shard.index.find(key);
    if (found == shard.index.end()) return false;
    live = found->second->expires_at > now;
    freed = shard.Unlink(found->second);
  }
  Release(freed);
  if (!live) counters_.expirations.fetch_add(1, std::memory_order_relaxed);
  return live;
}

std::vector<TierStats> MemoryStore::Stats() {
  TierStats stats;
  stats.tier = "memory";
  stats.capacity_bytes = capacity_bytes_;
  stats.blocks = usage_.blocks.load(std::memory_order_acquire);
  stats.bytes = usage_.bytes.load(std::memory_order_acquire);
  counters_.CopyTo(stats);
  return {stats};
}

}  // namespace gearkv::store
