// Flush marks (internal to DiskStore): how Open tells a MANIFEST that lost records of table
// files from a sound one.
//
// RocksDB's MANIFEST lists the table files of the database. If its tail is lost (truncated, or
// an older copy put back), RocksDB opens without complaint a database that lacks the files the
// lost records added, and deletes those files as unreferenced: blocks vanish silently. So the
// store keeps its own evidence:
//   - each memtable gets a fresh mark row 'f' + fixed64be(n) (empty value): the first write
//     batch after Open, and the next batch after RocksDB seals a memtable, carry the next mark,
//     so every table file written from a memtable that took two batches or more holds one;
//   - once a flush that contains mark n has completed (RocksDB has recorded the file in the
//     MANIFEST and synced it), n is written to the file GEARKV-FLUSHED in the directory;
//   - at Open, mark GEARKV-FLUSHED must still be in the database. A missing mark means a table
//     file the MANIFEST once recorded is gone, and Open refuses (FAILED_PRECONDITION).
// A flush that completes unreported (RocksDB notifies no listener while it closes; DiskStore
// flushes before closing for that reason), or a kill between a flush and its record, only leaves
// the record one mark behind: a weaker check, never a false refusal.
// Marks are never deleted while GEARKV-FLUSHED may name them (Open deletes only marks older
// than the newest one, after recording that one), and compaction keeps live rows, so a sound
// database always passes. A database from before marks existed (no GEARKV-FLUSHED) is not
// checked the first time.
#ifndef GEARKV_STORE_FLUSH_MARKS_H_
#define GEARKV_STORE_FLUSH_MARKS_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "gearkv/base/mutex.h"
#include "gearkv/store/disk_store.h"

namespace rocksdb {
class DB;
class EventListener;
class WriteBatch;
}  // namespace rocksdb

namespace gearkv::store::internal {

class FlushMarks {
 public:
  // `dir` is the database directory.
  FlushMarks(std::string dir, DiskLog log);

  // A RocksDB listener that reports completed flushes to this object, which must outlive the
  // database the listener is installed in.
  std::shared_ptr<rocksdb::EventListener> MakeListener();

  // At Open, once RocksDB has recovered and before the store writes: flushes the memtable,
  // checks the recorded mark (FAILED_PRECONDITION naming the directory when it is missing or
  // unreadable), records the newest mark present and deletes the older ones.
  absl::Status Recover(rocksdb::DB& db);

  // Around every store write (which the store serialises): AddTo puts the next mark in `batch`
  // when the memtable has none yet; AfterWrite takes the write's outcome and, when it
  // succeeded, the database's latest sequence number (the batch's last).
  void AddTo(rocksdb::WriteBatch& batch);
  void AfterWrite(bool ok, uint64_t latest_sequence);

 private:
  class Listener;

  // RocksDB sealed the memtable: the next batch starts the next one's mark.
  void Sealed();
  // A flush ending at `largest_seqno` completed.
  void Flushed(uint64_t largest_seqno);
  // Replaces GEARKV-FLUSHED with `mark`, durably.
  absl::Status Record(uint64_t mark);

  const std::string dir_;
  const std::string record_path_;
  const DiskLog log_;

  Mutex mu_;
  struct Pending {
    uint64_t mark = 0;
    uint64_t sequence = 0;  // the last sequence number of the batch that wrote it
  };
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 1;            // the next mark to write
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);  // written, not yet known flushed
  bool needed_ ABSL_GUARDED_BY(mu_) = false;          // the memtable has no mark yet
  bool added_ ABSL_GUARDED_BY(mu_) = false;           // AddTo put next_ in a batch being written
};

}  // namespace gearkv::store::internal

#endif  // GEARKV_STORE_FLUSH_MARKS_H_
