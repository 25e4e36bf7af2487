#include "gearkv/store/disk_store.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "disk_format.h"
#include "disk_rocks.h"
#include "flush_marks.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/write_batch.h"

namespace gearkv::store {
namespace {

using internal::BlockRowKey;
using internal::MetaRowKey;

uint64_t ChargeOf(const BlockKey& key, uint64_t payload_size) {
  return key.ns.size() + key.key.size() + payload_size;
}

void LogToStderr(std::string_view line) {
  std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
}

}  // namespace

absl::StatusOr<std::unique_ptr<DiskStore>> DiskStore::Open(DiskStoreOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("disk tier: no directory given");
  if (!options.log) options.log = LogToStderr;
  const std::string path = options.path;
  const DiskLog log = options.log;
  if (absl::Status damaged = internal::CheckNotDamaged(path); !damaged.ok()) return damaged;
  absl::StatusOr<std::shared_ptr<rocksdb::Logger>> logger =
      internal::MakeForwardingLogger(path, log);
  if (!logger.ok()) return logger.status();
  auto marks = std::make_unique<internal::FlushMarks>(path, log);
  rocksdb::Options db_options = internal::MakeRocksOptions(options, *logger);
  db_options.listeners.push_back(marks->MakeListener());
  db_options.listeners.push_back(internal::MakeDamageListener(path, log));
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(db_options, path, &raw);
  if (!s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "disk tier: cannot open RocksDB at ", path, ": ", s.ToString(),
        s.IsCorruption() ? "; the database is damaged: move the directory aside (or delete it) to "
                           "start with an empty disk tier"
                         : ""));
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  if (absl::Status recovered = marks->Recover(*db); !recovered.ok()) return recovered;
  absl::StatusOr<internal::RemovedFiles> removed = internal::RemoveUnreferencedFiles(*db, path);
  if (!removed.ok()) return removed.status();
  if (removed->files > 0) {
    log(absl::StrCat("disk tier: removed ", removed->files, " unreferenced table or blob files (",
                     removed->bytes, " bytes) from ", path));
  }
  if (rocksdb::Status enabled = db->SetOptions({{"disable_auto_compactions", "false"}});
      !enabled.ok()) {
    return absl::InternalError(
        absl::StrCat("disk tier: cannot enable compactions: ", enabled.ToString()));
  }
  std::unique_ptr<DiskStore> store(
      new DiskStore(std::move(options), *std::move(logger), std::move(marks), std::move(db)));
  LoadReport report;
  if (absl::Status loaded = store->LoadIndex(report); !loaded.ok()) return loaded;
  const TierStats stats = store->Stats().at(0);
  std::string line = absl::StrCat("disk tier: opened ", path, ": recovered ", stats.blocks,
                                  " blocks (", stats.bytes, " bytes)");
  if (report.bad_rows > 0) absl::StrAppend(&line, "; dropped ", report.bad_rows, " unreadable");
  if (report.expired > 0) absl::StrAppend(&line, "; dropped ", report.expired, " expired");
  if (report.over_budget > 0) {
    absl::StrAppend(&line, "; dropped ", report.over_budget, " over the budget");
  }
  log(line);
  return store;
}

DiskStore::DiskStore(DiskStoreOptions options, std::shared_ptr<rocksdb::Logger> logger,
                     std::unique_ptr<internal::FlushMarks> marks, std::unique_ptr<rocksdb::DB> db)
    : path_(std::move(options.path)),
      capacity_bytes_(options.capacity_bytes),
      clock_(options.clock ? std::move(options.clock) : [] { return absl::Now(); }),
      sweep_interval_(options.sweep_interval),
      sync_writes_(options.sync == DiskSync::kAlways),
      log_(std::move(options.log)),
      logger_(std::move(logger)),
      marks_(std::move(marks)),
      db_(std::move(db)) {}

DiskStore::~DiskStore() {
  // A flush that completes while RocksDB closes reports to no listener, so its flush mark would
  // go unrecorded: flush now, while the listeners still hear of it (a restart then has no log to
  // replay either). Failure only leaves the writes in the log.
  if (db_ != nullptr) db_->Flush(rocksdb::FlushOptions()).PermitUncheckedError();
}

absl::Status DiskStore::LoadIndex(LoadReport& report) {
  rocksdb::WriteBatch bad_rows;
  {
    const std::string lower(1, internal::kMetaRowPrefix);
    const std::string upper(1, internal::kMetaRowPrefix + 1);
    rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper_bound;
    read_options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
    MutexLock lock(&mu_);
    for (it->Seek(lower); it->Valid(); it->Next()) {
      const std::string_view row_key = it->key().ToStringView();
      const absl::string_view body(row_key.data() + 1, row_key.size() - 1);
      absl::StatusOr<internal::RecordInfo> info =
          internal::DecodeMetaRecord(it->value().ToStringView());
      absl::StatusOr<BlockKey> key =
          internal::DecodeKeyBody(std::string_view(body.data(), body.size()));
      if (!info.ok() || !key.ok()) {
        DeleteRows(body, bad_rows);  // unreadable meta row: drop the block
        ++report.bad_rows;
        continue;
      }
      const uint64_t charge = ChargeOf(*key, info->length);
      index_[body] = IndexEntry{info->seq, charge, info->expires_at};
      by_seq_[info->seq] = std::string(body);
      bytes_ += charge;
      next_seq_ = std::max(next_seq_, info->seq + 1);
    }
    if (!it->status().ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "disk tier: the database at ", path_, " is damaged: reading its index failed (",
          it->status().ToString(),
          "); move the directory aside (or delete it) to start with an empty disk tier"));
    }
  }
  {
    MutexLock lock(&mu_);
    for (const Victim& victim : ChooseVictims(0, {}, clock_(), /*sweep_all=*/true)) {
      DeleteRows(victim.key_body, bad_rows);
      EraseFromIndex(victim.key_body);
      ++(victim.expired ? report.expired : report.over_budget);
    }
  }
  if (bad_rows.Count() > 0) return Write(bad_rows);
  return absl::OkStatus();
}

std::vector<DiskStore::Victim> DiskStore::ChooseVictims(uint64_t incoming,
                                                        absl::string_view replaced, absl::Time now,
                                                        bool sweep_all) {
  std::vector<Victim> victims;
  absl::flat_hash_set<absl::string_view> chosen;
  uint64_t used = bytes_;
  if (auto it = index_.find(replaced); it != index_.end()) used -= it->second.charge;
  if (sweep_all || now >= next_sweep_) {
    for (const auto& [body, entry] : index_) {
      if (entry.expires_at <= now && body != replaced) {
        victims.push_back({body, /*expired=*/true});
        chosen.insert(body);
        used -= entry.charge;
      }
    }
    next_sweep_ = now + sweep_interval_;
  }
  for (auto it = by_seq_.begin(); it != by_seq_.end() && used + incoming > capacity_bytes_; ++it) {
    const std::string& body = it->second;
    if (body == replaced || chosen.contains(body)) continue;
    victims.push_back({body, /*expired=*/false});
    used -= index_.at(body).charge;
  }
  return victims;
}

void DiskStore::DeleteRows(absl::string_view key_body, rocksdb::WriteBatch& batch) {
  // WriteBatch::Delete only fails on sizes over 4 GiB, which keys never reach.
  const std::string_view body(key_body.data(), key_body.size());
  batch.Delete(BlockRowKey(body)).PermitUncheckedError();
  batch.Delete(MetaRowKey(body)).PermitUncheckedError();
}

void DiskStore::EraseFromIndex(absl::string_view key_body) {
  auto it = index_.find(key_body);
  if (it == index_.end()) return;
  bytes_ -= it->second.charge;
  by_seq_.erase(it->second.seq);
  index_.erase(it);
}

absl::Status DiskStore::Write(rocksdb::WriteBatch& batch) {
  marks_->AddTo(batch);
  const rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  marks_->AfterWrite(s.ok(), db_->GetLatestSequenceNumber());
  if (!s.ok()) return internal::WriteError(s, "write failed");
  return absl::OkStatus();
}

absl::Status DiskStore::Put(const BlockKey& key, BlockBytes bytes, absl::Time expires_at) {
  if (bytes == nullptr) return absl::InvalidArgumentError("disk tier: Put of a null block");
  const uint64_t charge = ChargeOf(key, bytes->size());
  if (charge > capacity_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "disk tier: block of ", charge, " bytes (key ", key.ns.size() + key.key.size(), " + value ",
        bytes->size(), ") exceeds the tier's capacity of ", capacity_bytes_, " bytes"));
  }
  const std::string body = internal::EncodeKeyBody(key);
  const absl::Time now = clock_();
  absl::Status status;
  uint64_t written = 0;
  {
    MutexLock lock(&mu_);
    status = PutLocked(body, *bytes, expires_at, now, charge);
    written = db_->GetLatestSequenceNumber();
  }
  if (!status.ok()) return status;
  return Durable(written);
}

absl::Status DiskStore::Durable(uint64_t sequence) {
  if (!sync_writes_) return absl::OkStatus();
  return syncer_.SyncThrough(*db_, sequence);
}

absl::Status DiskStore::PutLocked(const std::string& body, const std::string& bytes,
                                  absl::Time expires_at, absl::Time now, uint64_t charge) {
  rocksdb::WriteBatch batch;
  if (expires_at <= now) {  // already expired: only remove what was there
    if (!index_.contains(body)) return absl::OkStatus();
    DeleteRows(body, batch);
    if (absl::Status written = Write(batch); !written.ok()) return written;
    EraseFromIndex(body);
    return absl::OkStatus();
  }

  const std::vector<Victim> victims = ChooseVictims(charge, body, now, /*sweep_all=*/false);
  for (const Victim& victim : victims) DeleteRows(victim.key_body, batch);

  internal::RecordInfo info;
  info.seq = next_seq_;
  info.expires_at = expires_at;
  info.length = bytes.size();
  info.checksum = internal::PayloadChecksum(bytes);
  const std::string header = internal::EncodeRecordHeader(info);
  const std::string block_row = BlockRowKey(body);
  const rocksdb::Slice key_part(block_row);
  const rocksdb::Slice value_parts[] = {rocksdb::Slice(header), rocksdb::Slice(bytes)};
  if (rocksdb::Status s =
          batch.Put(rocksdb::SliceParts(&key_part, 1), rocksdb::SliceParts(value_parts, 2));
      !s.ok()) {
    return internal::WriteError(s, "encoding the write");
  }
  if (rocksdb::Status s = batch.Put(MetaRowKey(body), internal::EncodeMetaRecord(info)); !s.ok()) {
    return internal::WriteError(s, "encoding the write");
  }
  if (absl::Status written = Write(batch); !written.ok()) return written;

  // The write is in the log: now the index follows (under kAlways, Put returns once the log is
  // fsynced; a reader may see the block before).
  for (const Victim& victim : victims) {
    EraseFromIndex(victim.key_body);
    (victim.expired ? counters_.expirations : counters_.evictions)
        .fetch_add(1, std::memory_order_relaxed);
  }
  EraseFromIndex(body);
  index_[body] = IndexEntry{info.seq, charge, expires_at};
  by_seq_[info.seq] = body;
  bytes_ += charge;
  ++next_seq_;
  return absl::OkStatus();
}

absl::StatusOr<BlockBytes> DiskStore::Get(const BlockKey& key) {
  absl::StatusOr<StoredBlock> block = GetWithExpiry(key);
  if (!block.ok()) return block.status();
  return std::move(block->bytes);
}

absl::StatusOr<StoredBlock> DiskStore::GetWithExpiry(const BlockKey& key) {
  const std::string body = internal::EncodeKeyBody(key);
  const absl::Time now = clock_();
  uint64_t seq = 0;
  bool expired = false;
  {
    ReaderMutexLock lock(&mu_);
    auto it = index_.find(body);
    if (it == index_.end()) {
      counters_.misses.fetch_add(1, std::memory_order_relaxed);
      return absl::NotFoundError("disk tier: no block under this key");
    }
    seq = it->second.seq;
    expired = it->second.expires_at <= now;
  }
  if (expired) {
    DropIfUnchanged(body, seq);
    counters_.expirations.fetch_add(1, std::memory_order_relaxed);
    counters_.misses.fetch_add(1, std::memory_order_relaxed);
    return absl::NotFoundError("disk tier: no block under this key");
  }

  rocksdb::PinnableSlice row;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), BlockRowKey(body), &row);
  if (s.IsNotFound()) {
    // Deleted since the index lookup (then this is a no-op), or a meta row without its block.
    DropIfUnchanged(body, seq);
    counters_.misses.fetch_add(1, std::memory_order_relaxed);
    return absl::NotFoundError("disk tier: no block under this key");
  }
  absl::Status failed;
  std::string_view payload;
  absl::StatusOr<internal::RecordInfo> info;
  if (!s.ok()) {
    failed = internal::ReadError(s, "read failed");
  } else {
    info = internal::DecodeAndVerifyBlockRow(row.ToStringView(), payload);
    failed = info.status();
  }
  if (!failed.ok()) {
    if (!absl::IsDataLoss(failed)) return failed;
    DropIfUnchanged(body, seq);
    return absl::DataLossError(absl::StrCat(failed.message(), "; block (namespace '", key.ns, "', ",
                                            key.key.size(), "-byte key) dropped"));
  }
  counters_.hits.fetch_add(1, std::memory_order_relaxed);
  return StoredBlock{std::make_shared<const std::string>(payload), info->expires_at};
}

void DiskStore::DropIfUnchanged(absl::string_view key_body, uint64_t seq) {
  MutexLock lock(&mu_);
  auto it = index_.find(key_body);
  if (it == index_.end() || it->second.seq != seq) return;
  rocksdb::WriteBatch batch;
  DeleteRows(key_body, batch);
  if (absl::Status written = Write(batch); !written.ok()) {
    log_(absl::StrCat("disk tier: dropping a block from ", path_,
                      " left its rows on disk: ", written.message()));
  }
  EraseFromIndex(key_body);
}

bool DiskStore::Contains(const BlockKey& key) {
  const std::string body = internal::EncodeKeyBody(key);
  const absl::Time now = clock_();
  ReaderMutexLock lock(&mu_);
  auto it = index_.find(body);
  return it != index_.end() && it->second.expires_at > now;
}

absl::StatusOr<bool> DiskStore::Delete(const BlockKey& key) {
  const std::string body = internal::EncodeKeyBody(key);
  const absl::Time now = clock_();
  bool live = false;
  uint64_t written = 0;
  {
    MutexLock lock(&mu_);
    auto it = index_.find(body);
    if (it == index_.end()) return false;
    live = it->second.expires_at > now;
    rocksdb::WriteBatch batch;
    DeleteRows(body, batch);
    if (absl::Status status = Write(batch); !status.ok()) return status;
    EraseFromIndex(body);
    if (!live) counters_.expirations.fetch_add(1, std::memory_order_relaxed);
    written = db_->GetLatestSequenceNumber();
  }
  if (absl::Status durable = Durable(written); !durable.ok()) return durable;
  return live;
}

std::vector<TierStats> DiskStore::Stats() {
  TierStats stats;
  stats.tier = "disk";
  stats.capacity_bytes = capacity_bytes_;
  {
    ReaderMutexLock lock(&mu_);
    stats.blocks = index_.size();
    stats.bytes = bytes_;
  }
  counters_.CopyTo(stats);
  return {stats};
}

}  // namespace gearkv::store
