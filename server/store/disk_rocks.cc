#include "disk_rocks.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/listener.h"

namespace gearkv::store::internal {
namespace {

const char* LevelName(rocksdb::InfoLogLevel level) {
  switch (level) {
    case rocksdb::InfoLogLevel::WARN_LEVEL:
      return "warning";
    case rocksdb::InfoLogLevel::ERROR_LEVEL:
      return "error";
    case rocksdb::InfoLogLevel::FATAL_LEVEL:
      return "fatal error";
    default:
      return "message";
  }
}

// Forwards everything to RocksDB's own file logger and WARN and above to a DiskLog too.
class ForwardingLogger final : public rocksdb::Logger {
 public:
  ForwardingLogger(std::shared_ptr<rocksdb::Logger> file, DiskLog log)
      : rocksdb::Logger(file->GetInfoLogLevel()), file_(std::move(file)), log_(std::move(log)) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < rocksdb::InfoLogLevel::WARN_LEVEL || level == rocksdb::InfoLogLevel::HEADER_LEVEL) {
      file_->Logv(level, format, ap);
      return;
    }
    va_list copy;
    va_copy(copy, ap);
    file_->Logv(level, format, ap);
    char buffer[1024];
    const int n = std::vsnprintf(buffer, sizeof(buffer), format, copy);
    va_end(copy);
    if (n < 0) return;
    absl::string_view text(buffer, std::min<size_t>(n, sizeof(buffer) - 1));
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    log_(absl::StrCat("disk tier: RocksDB ", LevelName(level), ": ", text));
  }
  void LogHeader(const char* format, va_list ap) override { file_->LogHeader(format, ap); }
  size_t GetLogFileSize() const override { return file_->GetLogFileSize(); }
  void Flush() override { file_->Flush(); }
  void SetInfoLogLevel(const rocksdb::InfoLogLevel level) override {
    rocksdb::Logger::SetInfoLogLevel(level);
    file_->SetInfoLogLevel(level);
  }

 protected:
  rocksdb::Status CloseImpl() override { return file_->Close(); }

 private:
  const std::shared_ptr<rocksdb::Logger> file_;
  const DiskLog log_;
};

std::string Describe(const rocksdb::Status& s, absl::string_view what) {
  return absl::StrCat("disk tier: ", what, ": ", s.ToString());
}

constexpr char kDamageRecordName[] = "GEARKV-DAMAGED";

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat("disk tier: ", what, " ", path, ": ", std::strerror(errno)));
}

class DamageListener final : public rocksdb::EventListener {
 public:
  DamageListener(std::string dir, DiskLog log) : dir_(std::move(dir)), log_(std::move(log)) {}

  void OnBackgroundError(rocksdb::BackgroundErrorReason /*reason*/,
                         rocksdb::Status* error) override {
    if (error == nullptr || !error->IsCorruption()) return;
    const std::string text = absl::StrCat(
        "a background job of RocksDB failed on damaged data and RocksDB stopped writes: ",
        error->ToString());
    log_(absl::StrCat("disk tier: ", text,
                      "; Puts to the disk tier fail until a restart, which "
                      "refuses the directory"));
    if (absl::Status written = WriteFileDurably(dir_, kDamageRecordName, text + "\n");
        !written.ok()) {
      log_(std::string(written.message()));
    }
  }

 private:
  const std::string dir_;
  const DiskLog log_;
};

}  // namespace

absl::Status WriteFileDurably(const std::string& dir, const char* name, std::string_view text) {
  const std::string path = absl::StrCat(dir, "/", name);
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", temp);
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = written && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return Errno("cannot write", temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) return Errno("cannot rename", temp);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Errno("cannot open", dir);
  const bool dir_synced = ::fsync(dir_fd) == 0;
  ::close(dir_fd);
  if (!dir_synced) return Errno("cannot fsync", dir);
  return absl::OkStatus();
}

std::shared_ptr<rocksdb::EventListener> MakeDamageListener(std::string dir, DiskLog log) {
  return std::make_shared<DamageListener>(std::move(dir), std::move(log));
}

absl::Status CheckNotDamaged(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kDamageRecordName);
  std::ifstream in(path);
  if (!in) return absl::OkStatus();
  std::string text((std::istreambuf_iterator<char>(in)), {});
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return absl::FailedPreconditionError(absl::StrCat(
      "disk tier: the database at ", dir, " is damaged: ", text, " (recorded in ", path,
      "); move the directory aside (or delete it) to start with an empty disk tier"));
}

rocksdb::Options MakeRocksOptions(const DiskStoreOptions& options,
                                  std::shared_ptr<rocksdb::Logger> info_log) {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  // Blocks arrive compressed by the codec (or are fp16 noise): block compression buys nothing.
  db_options.compression = rocksdb::kNoCompression;
  db_options.write_buffer_size = options.write_buffer_bytes;
  if (options.blob_files) {
    db_options.enable_blob_files = true;
    db_options.min_blob_size = 64 << 10;
    db_options.enable_blob_garbage_collection = true;
  }
  // Replaying the write-ahead log stops at its first damaged or torn record: the blocks
  // recovered are those of a prefix of the writes, never a later write without an earlier one
  // (so never a replaced version back after its replacement was dropped). A torn last record is
  // what a crash in the middle of a write leaves; damage further in loses the writes after it.
  // RocksDB reports either as a warning, which the info log forwards. (kAbsoluteConsistency
  // would refuse to start after any crash that tore the last record; kSkipAnyCorruptedRecords
  // could replay a later write without an earlier one.)
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // On: a missing or mis-sized table file refuses the open, and a corruption found by a
  // background job stops writes instead of being ignored.
  db_options.paranoid_checks = true;
  db_options.info_log = std::move(info_log);
  // RocksDB keeps 1000 old info logs (one per open) by default.
  db_options.keep_log_file_num = 16;
  // Off while Open looks for unreferenced files, so that no compaction output being written can
  // look like one; Open turns them on afterwards.
  db_options.disable_auto_compactions = true;
  return db_options;
}

absl::StatusOr<std::shared_ptr<rocksdb::Logger>> MakeForwardingLogger(const std::string& path,
                                                                      DiskLog log) {
  rocksdb::DBOptions defaults;
  std::shared_ptr<rocksdb::Logger> file;
  if (rocksdb::Status s = rocksdb::CreateLoggerFromOptions(path, defaults, &file); !s.ok()) {
    return absl::FailedPreconditionError(Describe(s, "cannot create RocksDB's LOG in " + path));
  }
  return std::shared_ptr<rocksdb::Logger>(
      std::make_shared<ForwardingLogger>(std::move(file), std::move(log)));
}

absl::Status ReadError(const rocksdb::Status& s, absl::string_view what) {
  if (s.IsCorruption() || s.IsIOError()) return absl::DataLossError(Describe(s, what));
  return absl::InternalError(Describe(s, what));
}

absl::Status WriteError(const rocksdb::Status& s, absl::string_view what) {
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(Describe(s, what));
  return absl::InternalError(Describe(s, what));
}

absl::Status LogSyncer::SyncThrough(rocksdb::DB& db, uint64_t sequence) {
  MutexLock lock(&mu_);
  while (synced_ < sequence) {
    if (syncing_) {
      synced_cv_.Wait(&mu_);
      continue;
    }
    syncing_ = true;
    // Every write up to here has returned, so it is in the log file: this sync covers it.
    const uint64_t target = db.GetLatestSequenceNumber();
    mu_.Unlock();
    const rocksdb::Status s = db.SyncWAL();
    mu_.Lock();
    syncing_ = false;
    if (s.ok()) synced_ = std::max(synced_, target);
    synced_cv_.SignalAll();
    if (!s.ok()) return WriteError(s, "syncing the log");
  }
  return absl::OkStatus();
}

absl::StatusOr<RemovedFiles> RemoveUnreferencedFiles(rocksdb::DB& db, const std::string& path) {
  std::vector<std::string> live_names;
  uint64_t manifest_size = 0;
  if (rocksdb::Status s = db.GetLiveFiles(live_names, &manifest_size, /*flush_memtable=*/false);
      !s.ok()) {
    return absl::InternalError(Describe(s, "listing the live files"));
  }
  absl::flat_hash_set<std::string> live;
  for (const std::string& name : live_names) {
    live.insert(std::filesystem::path(name).filename().string());
  }
  RemovedFiles removed;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
    const std::string name = entry.path().filename().string();
    if (!absl::EndsWith(name, ".sst") && !absl::EndsWith(name, ".blob")) continue;
    if (live.contains(name) || !entry.is_regular_file()) continue;
    const uint64_t size = entry.file_size(error);
    if (error || !std::filesystem::remove(entry.path(), error) || error) {
      return absl::InternalError(absl::StrCat("disk tier: cannot remove the unreferenced file ",
                                              entry.path().string(), ": ", error.message()));
    }
    ++removed.files;
    removed.bytes += size;
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat("disk tier: cannot list ", path, ": ", error.message()));
  }
  return removed;
}

}  // namespace gearkv::store::internal
