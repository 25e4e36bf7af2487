// The RocksDB side of DiskStore (internal): the options it opens a database with, the logger
// that sends RocksDB's warnings to the store's log, the record of damage RocksDB found while
// running, how RocksDB statuses become absl ones, and the removal of files the database no
// longer references.
#ifndef GEARKV_STORE_DISK_ROCKS_H_
#define GEARKV_STORE_DISK_ROCKS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gearkv/store/disk_store.h"
#include "rocksdb/options.h"
#include "rocksdb/status.h"

namespace rocksdb {
class DB;
class EventListener;
class Logger;
}  // namespace rocksdb

namespace gearkv::store::internal {

// The options DiskStore opens `options.path` with, RocksDB's info log going to `info_log`.
rocksdb::Options MakeRocksOptions(const DiskStoreOptions& options,
                                  std::shared_ptr<rocksdb::Logger> info_log);

// A RocksDB logger that writes the info log to LOG in `path`, as RocksDB's own does, and also
// sends every message of WARN level or above to `log` as "disk tier: RocksDB <LEVEL>: <text>".
// RocksDB calls it from any of its threads.
absl::StatusOr<std::shared_ptr<rocksdb::Logger>> MakeForwardingLogger(const std::string& path,
                                                                      DiskLog log);

// A failed read of a stored row: DATA_LOSS when the row cannot be read back (RocksDB found it
// corrupt, or a file it lives in is missing or unreadable), INTERNAL otherwise.
absl::Status ReadError(const rocksdb::Status& s, absl::string_view what);
// A failed write: RESOURCE_EXHAUSTED when the disk is full, INTERNAL otherwise (including a
// database that RocksDB stopped after a background error).
absl::Status WriteError(const rocksdb::Status& s, absl::string_view what);

// Replaces `dir`/`name` with `text` durably: a temporary file, fsynced, renamed over it, and the
// directory fsynced.
absl::Status WriteFileDurably(const std::string& dir, const char* name, std::string_view text);

// A RocksDB listener for damage found while the database runs: when a background job (a
// compaction or flush) fails on corrupt data, RocksDB stops all writes; the listener logs that
// and writes the error to GEARKV-DAMAGED in `dir`, so that the next Open refuses (see
// CheckNotDamaged) instead of serving a database RocksDB cannot maintain.
std::shared_ptr<rocksdb::EventListener> MakeDamageListener(std::string dir, DiskLog log);

// FAILED_PRECONDITION, with the recorded error and what to do, when `dir` holds GEARKV-DAMAGED.
absl::Status CheckNotDamaged(const std::string& dir);

struct RemovedFiles {
  uint64_t files = 0;
  uint64_t bytes = 0;
};
// Deletes the table (.sst) and blob (.blob) files in the open database's directory that none of
// its versions references and no running job is writing: what a crash between writing a file
// and recording it leaves behind. Call right after DB::Open, before any write.
absl::StatusOr<RemovedFiles> RemoveUnreferencedFiles(rocksdb::DB& db, const std::string& path);

}  // namespace gearkv::store::internal

#endif  // GEARKV_STORE_DISK_ROCKS_H_
