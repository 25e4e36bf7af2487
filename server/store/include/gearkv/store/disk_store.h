// DiskStore: the disk tier, a RocksDB database in one directory under a byte budget.
//
// Durability: every write goes through RocksDB's write-ahead log before Put returns, so a block
// whose Put returned OK survives a crash of the process. Whether it survives a power loss or a
// kernel crash depends on `sync` (DiskSync). Reopening the same directory serves every block
// that survived.
//
// Integrity: each block is stored with a header (format version, insertion sequence, expiry,
// payload length, XXH3-64 of the payload) and verified on every read. A block that cannot be
// read back (it fails that check, RocksDB finds its row corrupt, or a file it lives in is
// missing or unreadable) is DATA_LOSS, with a message saying what failed, and is dropped: gone
// from the index at once (Contains is false, the next Get NOT_FOUND) and deleted from RocksDB.
//
// Recovery (Open): RocksDB replays its log in point-in-time mode (see disk_rocks.cc); every
// warning or error RocksDB logs, a damaged log included, goes to `log`, and so does a line
// saying how many blocks were recovered. A database that cannot be opened consistently is
// refused with FAILED_PRECONDITION, naming the directory and what to do, rather than served with
// blocks silently missing: a damaged MANIFEST, a missing or damaged table file, an unreadable
// index, a MANIFEST that lost records of table files (detected by flush marks, see
// flush_marks.h), or damage that RocksDB met while running (see below). Table and blob files
// that the database no longer references are deleted (RocksDB 7.8 deletes most itself).
//
// Damage found while running: a block that cannot be read is dropped as above. A compaction
// that meets a damaged file cannot complete, and RocksDB then stops all writes: Put and Delete
// fail with INTERNAL (reads go on), the error is logged and recorded in GEARKV-DAMAGED, and the
// next Open refuses the directory, which has to be moved aside or deleted.
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
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gearkv/base/mutex.h"
#include "gearkv/store/block_store.h"

namespace rocksdb {
class DB;
class Logger;
class WriteBatch;
}  // namespace rocksdb

namespace gearkv::store {
namespace internal {
class FlushMarks;

// Group commit of the disk tier's log (see DiskSync::kAlways); defined in disk_rocks.cc.
class LogSyncer {
 public:
  // Returns once every write whose sequence number is at most `sequence` is on stable storage;
  // INTERNAL when the fsync fails.
  absl::Status SyncThrough(rocksdb::DB& db, uint64_t sequence);

 private:
  Mutex mu_;
  CondVar synced_cv_;
  uint64_t synced_ ABSL_GUARDED_BY(mu_) = 0;  // the log is durable through this sequence
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;
};
}  // namespace internal

// When a Put's write reaches stable storage.
enum class DiskSync {
  // RocksDB writes the log record to its file (the OS page cache) before Put returns: it
  // survives a crash of the process, not a power loss or kernel crash, which may lose the writes
  // of the last seconds (the recovered blocks are still a prefix of the writes).
  kNone,
  // The log is fsynced before Put (or Delete) returns: an acknowledged block survives a power
  // loss too. Group commit: writers wait for the next fsync after their write, and one fsync
  // covers every write done when it starts, so concurrent Puts share fsyncs.
  kAlways,
};

// Receives one line (no newline) per event an operator should see. Called from any thread,
// RocksDB's background threads included, until the store is destroyed (closing may log), so it
// must be thread-safe and outlive the store.
using DiskLog = std::function<void(std::string_view line)>;

struct DiskStoreOptions {
  // The database directory; created when missing.
  std::string path;
  uint64_t capacity_bytes = uint64_t{16} << 30;
  // The time source for expiry; tests inject a fake clock.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // How often a Put sweeps the index for expired blocks.
  absl::Duration sweep_interval = absl::Seconds(10);
  DiskSync sync = DiskSync::kNone;
  // Where what Open recovered and RocksDB's warnings and errors go; null = stderr.
  DiskLog log = nullptr;
  // Keep values of 64 KiB and more in RocksDB blob files, so compaction does not rewrite them.
  bool blob_files = true;
  // RocksDB's memtable size: writes collect in memory (and in the log) up to this much before
  // they are flushed to a table file. Bounds what a restart replays from the log.
  uint64_t write_buffer_bytes = uint64_t{64} << 20;
};

class DiskStore final : public BlockStore {
 public:
  // Opens (creating if needed) the database at `options.path` and rebuilds the index. Blocks
  // found expired are deleted; if the directory holds more than the budget (a smaller budget
  // than last time), the oldest are deleted. FAILED_PRECONDITION when the database cannot be
  // opened (another process holds it, or it is damaged: see Recovery above), with RocksDB's
  // message.
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

  // What LoadIndex found and dropped, for the log line of Open.
  struct LoadReport {
    uint64_t bad_rows = 0;
    uint64_t expired = 0;
    uint64_t over_budget = 0;
  };

  DiskStore(DiskStoreOptions options, std::shared_ptr<rocksdb::Logger> logger,
            std::unique_ptr<internal::FlushMarks> marks, std::unique_ptr<rocksdb::DB> db);

  // Rebuilds the index from the meta rows and applies expiry and the budget.
  absl::Status LoadIndex(LoadReport& report);
  // Picks the blocks to delete so that `incoming` more bytes fit: expired blocks when a sweep
  // is due (or `sweep_all`), then oldest first. `replaced` (a key body) is never picked.
  std::vector<Victim> ChooseVictims(uint64_t incoming, absl::string_view replaced, absl::Time now,
                                    bool sweep_all) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the deletion of `key_body`'s rows to `batch`.
  static void DeleteRows(absl::string_view key_body, rocksdb::WriteBatch& batch);
  void EraseFromIndex(absl::string_view key_body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Put's work under the write mutex.
  absl::Status PutLocked(const std::string& body, const std::string& bytes, absl::Time expires_at,
                         absl::Time now, uint64_t charge) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `batch` (with a flush mark when one is due) to the log without syncing it; callers
  // serialise writes.
  absl::Status Write(rocksdb::WriteBatch& batch);
  // Under DiskSync::kAlways, waits until the log is fsynced through `sequence` (call without
  // mu_, so that concurrent writers share the fsync).
  absl::Status Durable(uint64_t sequence);
  // Drops `key_body` if it is still the version numbered `seq` (a bad or expired block): from
  // the index at once, and from RocksDB unless that write fails (then a reopen finds the rows
  // and the block fails its read again).
  void DropIfUnchanged(absl::string_view key_body, uint64_t seq);

  const std::string path_;
  const uint64_t capacity_bytes_;
  const std::function<absl::Time()> clock_;
  const absl::Duration sweep_interval_;
  const bool sync_writes_;
  const DiskLog log_;
  internal::LogSyncer syncer_;
  // Both outlive db_, which calls them.
  std::shared_ptr<rocksdb::Logger> logger_;
  std::unique_ptr<internal::FlushMarks> marks_;
  std::unique_ptr<rocksdb::DB> db_;

  Mutex mu_;
  absl::flat_hash_map<std::string, IndexEntry> index_ ABSL_GUARDED_BY(mu_);  // by key body
  absl::btree_map<uint64_t, std::string> by_seq_ ABSL_GUARDED_BY(mu_);       // oldest first
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Time next_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  TierCounters counters_;
};

}  // namespace gearkv::store

#endif  // GEARKV_STORE_DISK_STORE_H_
