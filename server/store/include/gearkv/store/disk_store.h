// DiskStore: the disk tier, a RocksDB database in one directory under a byte budget.
//
// Durability: every write goes through RocksDB's write-ahead log (not fsynced per write unless
// `sync_writes`), so a block whose Put returned OK survives a kill of the process; surviving a
// machine crash needs `sync_writes`. Reopening the same directory serves every such block.
//
// Integrity: each block is stored with a header (format version, insertion sequence, expiry,
// payload length, XXH3-64 of the payload) and verified on every read. A block that fails is
// DATA_LOSS, with a message saying what failed, and is deleted.
//
// Budget: charged `ns.size() + key.size() + value.size()` per block, like the memory tier
// (RocksDB's own overhead and space awaiting compaction are not counted). An in-memory index,
// rebuilt at Open by scanning the small per-block meta rows, orders blocks by insertion; a Put
// that would exceed the budget deletes the oldest-written blocks first, in the same atomic
// write batch as the new block, so the budget is exact. Expired blocks are invisible, dropped
// when read, and swept by a Put at most once per `sweep_interval`.
//
// Thread-safety: all methods may be called concurrently. Reads (Get, Contains) take a shared
// lock on the index only to look up the key and read RocksDB without it; writes (Put, Delete,
// dropping a bad or expired block) are serialised by one mutex held across the RocksDB write.
#ifndef GEARKV_STORE_DISK_STORE_H_
#define GEARKV_STORE_DISK_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gearkv/store/block_store.h"
#include "gearkv/store/internal/mutex.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace gearkv::store {

struct DiskStoreOptions {
  // The database directory; created when missing.
  std::string path;
  uint64_t capacity_bytes = uint64_t{16} << 30;
  // The time source for expiry; tests inject a fake clock.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // How often a Put sweeps the index for expired blocks.
  absl::Duration sweep_interval = absl::Seconds(10);
  // fsync the write-ahead log on every write (survives a machine crash, not only a process kill).
  bool sync_writes = false;
  // Keep values of 64 KiB and more in RocksDB blob files, so compaction does not rewrite them.
  bool blob_files = true;
};

class DiskStore final : public BlockStore {
 public:
  // Opens (creating if needed) the database at `options.path` and rebuilds the index. Blocks
  // found expired are deleted; if the directory holds more than the budget (a smaller budget
  // than last time), the oldest are deleted. FAILED_PRECONDITION when the database cannot be
  // opened (e.g. another process holds it), with RocksDB's message.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<DiskStore>> Open(DiskStoreOptions options);
  ~DiskStore() override;

  DiskStore(const DiskStore&) = delete;
  DiskStore& operator=(const DiskStore&) = delete;

  [[nodiscard]] absl::Status Put(const BlockKey& key, BlockBytes bytes,
                                 absl::Time expires_at) override;
  [[nodiscard]] absl::StatusOr<BlockBytes> Get(const BlockKey& key) override;
  [[nodiscard]] absl::StatusOr<StoredBlock> GetWithExpiry(const BlockKey& key) override;
  // Answered from the in-memory index: no disk read.
  bool Contains(const BlockKey& key) override;
  absl::StatusOr<bool> Delete(const BlockKey& key) override;
  // One entry, tier "disk".
  std::vector<TierStats> Stats() override;

  const std::string& path() const { return path_; }

 private:
  struct IndexEntry {
    uint64_t seq = 0;
    uint64_t charge = 0;
    absl::Time expires_at;
  };
  struct Victim {
    std::string key_body;
    bool expired = false;
  };

  DiskStore(DiskStoreOptions options, std::unique_ptr<rocksdb::DB> db);

  // Rebuilds the index from the meta rows and applies expiry and the budget.
  absl::Status LoadIndex();
  // Picks the blocks to delete so that `incoming` more bytes fit: expired blocks when a sweep
  // is due (or `sweep_all`), then oldest first. `replaced` (a key body) is never picked.
  std::vector<Victim> ChooseVictims(uint64_t incoming, absl::string_view replaced, absl::Time now,
                                    bool sweep_all) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the deletion of `key_body`'s rows to `batch`.
  static void DeleteRows(absl::string_view key_body, rocksdb::WriteBatch& batch);
  void EraseFromIndex(absl::string_view key_body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Write(rocksdb::WriteBatch& batch);
  // Deletes `key_body` if it is still the version numbered `seq` (a bad or expired block).
  void DropIfUnchanged(absl::string_view key_body, uint64_t seq);

  const std::string path_;
  const uint64_t capacity_bytes_;
  const std::function<absl::Time()> clock_;
  const absl::Duration sweep_interval_;
  const bool sync_writes_;
  std::unique_ptr<rocksdb::DB> db_;

  internal::Mutex mu_;
  absl::flat_hash_map<std::string, IndexEntry> index_ ABSL_GUARDED_BY(mu_);  // by key body
  absl::btree_map<uint64_t, std::string> by_seq_ ABSL_GUARDED_BY(mu_);       // oldest first
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Time next_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
  std::atomic<uint64_t> evictions_{0};
  std::atomic<uint64_t> expirations_{0};
};

}  // namespace gearkv::store

#endif  // GEARKV_STORE_DISK_STORE_H_
