#include "gearkv/store/disk_store.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "disk_format.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/write_batch.h"

namespace gearkv::store {
namespace {

using internal::BlockRowKey;
using internal::MetaRowKey;

absl::Status FromRocks(const rocksdb::Status& s, const char* what) {
  const std::string message = absl::StrCat("disk tier: ", what, ": ", s.ToString());
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(message);
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsIOError()) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

uint64_t ChargeOf(const BlockKey& key, uint64_t payload_size) {
  return key.ns.size() + key.key.size() + payload_size;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DiskStore>> DiskStore::Open(DiskStoreOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("disk tier: no directory given");
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  // Blocks arrive compressed by the codec (or are fp16 noise): block compression buys nothing.
  db_options.compression = rocksdb::kNoCompression;
  if (options.blob_files) {
    db_options.enable_blob_files = true;
    db_options.min_blob_size = 64 << 10;
    db_options.enable_blob_garbage_collection = true;
  }
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, &raw);
  if (!s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("disk tier: cannot open RocksDB at ", options.path, ": ", s.ToString()));
  }
  std::unique_ptr<DiskStore> store(
      new DiskStore(std::move(options), std::unique_ptr<rocksdb::DB>(raw)));
  if (absl::Status loaded = store->LoadIndex(); !loaded.ok()) return loaded;
  return store;
}

DiskStore::DiskStore(DiskStoreOptions options, std::unique_ptr<rocksdb::DB> db)
    : path_(std::move(options.path)),
      capacity_bytes_(options.capacity_bytes),
      clock_(options.clock ? std::move(options.clock) : [] { return absl::Now(); }),
      sweep_interval_(options.sweep_interval),
      sync_writes_(options.sync_writes),
      db_(std::move(db)) {}

DiskStore::~DiskStore() = default;

absl::Status DiskStore::LoadIndex() {
  rocksdb::WriteBatch bad_rows;
  {
    const std::string lower(1, internal::kMetaRowPrefix);
    const std::string upper(1, internal::kMetaRowPrefix + 1);
    rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper_bound;
    read_options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
    internal::MutexLock lock(&mu_);
    for (it->Seek(lower); it->Valid(); it->Next()) {
      const std::string_view row_key = it->key().ToStringView();
      const absl::string_view body(row_key.data() + 1, row_key.size() - 1);
      absl::StatusOr<internal::RecordInfo> info =
          internal::DecodeMetaRecord(it->value().ToStringView());
      absl::StatusOr<BlockKey> key =
          internal::DecodeKeyBody(std::string_view(body.data(), body.size()));
      if (!info.ok() || !key.ok()) {
        DeleteRows(body, bad_rows);  // unreadable meta row: drop the block
        continue;
      }
      const uint64_t charge = ChargeOf(*key, info->length);
      index_[body] = IndexEntry{info->seq, charge, info->expires_at};
      by_seq_[info->seq] = std::string(body);
      bytes_ += charge;
      next_seq_ = std::max(next_seq_, info->seq + 1);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scanning the index at open");
  }
  {
    internal::MutexLock lock(&mu_);
    for (const Victim& victim : ChooseVictims(0, {}, clock_(), /*sweep_all=*/true)) {
      DeleteRows(victim.key_body, bad_rows);
      EraseFromIndex(victim.key_body);
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
  rocksdb::WriteOptions write_options;
  write_options.sync = sync_writes_;
  const rocksdb::Status s = db_->Write(write_options, &batch);
  if (!s.ok()) return FromRocks(s, "write failed");
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

  internal::MutexLock lock(&mu_);
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
  info.length = bytes->size();
  info.checksum = internal::PayloadChecksum(*bytes);
  const std::string header = internal::EncodeRecordHeader(info);
  const std::string block_row = BlockRowKey(body);
  const rocksdb::Slice key_part(block_row);
  const rocksdb::Slice value_parts[] = {rocksdb::Slice(header), rocksdb::Slice(*bytes)};
  if (rocksdb::Status s =
          batch.Put(rocksdb::SliceParts(&key_part, 1), rocksdb::SliceParts(value_parts, 2));
      !s.ok()) {
    return FromRocks(s, "encoding the write");
  }
  if (rocksdb::Status s = batch.Put(MetaRowKey(body), internal::EncodeMetaRecord(info)); !s.ok()) {
    return FromRocks(s, "encoding the write");
  }
  if (absl::Status written = Write(batch); !written.ok()) return written;

  // The write is durable: now the index follows.
  for (const Victim& victim : victims) {
    EraseFromIndex(victim.key_body);
    (victim.expired ? expirations_ : evictions_).fetch_add(1, std::memory_order_relaxed);
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
    internal::ReaderMutexLock lock(&mu_);
    auto it = index_.find(body);
    if (it == index_.end()) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return absl::NotFoundError("disk tier: no block under this key");
    }
    seq = it->second.seq;
    expired = it->second.expires_at <= now;
  }
  if (expired) {
    DropIfUnchanged(body, seq);
    expirations_.fetch_add(1, std::memory_order_relaxed);
    misses_.fetch_add(1, std::memory_order_relaxed);
    return absl::NotFoundError("disk tier: no block under this key");
  }

  rocksdb::PinnableSlice row;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), BlockRowKey(body), &row);
  if (s.IsNotFound()) {  // deleted since the index lookup
    misses_.fetch_add(1, std::memory_order_relaxed);
    return absl::NotFoundError("disk tier: no block under this key");
  }
  if (!s.ok()) return FromRocks(s, "read failed");

  std::string_view payload;
  absl::StatusOr<internal::RecordInfo> info =
      internal::DecodeAndVerifyBlockRow(row.ToStringView(), payload);
  if (!info.ok()) {
    DropIfUnchanged(body, seq);
    return absl::DataLossError(absl::StrCat(info.status().message(), "; block (namespace '", key.ns,
                                            "', ", key.key.size(), "-byte key) dropped"));
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  return StoredBlock{std::make_shared<const std::string>(payload), info->expires_at};
}

void DiskStore::DropIfUnchanged(absl::string_view key_body, uint64_t seq) {
  internal::MutexLock lock(&mu_);
  auto it = index_.find(key_body);
  if (it == index_.end() || it->second.seq != seq) return;
  rocksdb::WriteBatch batch;
  DeleteRows(key_body, batch);
  // On failure the block stays indexed and is verified (and dropped) again on the next read.
  if (Write(batch).ok()) EraseFromIndex(key_body);
}

bool DiskStore::Contains(const BlockKey& key) {
  const std::string body = internal::EncodeKeyBody(key);
  const absl::Time now = clock_();
  internal::ReaderMutexLock lock(&mu_);
  auto it = index_.find(body);
  return it != index_.end() && it->second.expires_at > now;
}

absl::StatusOr<bool> DiskStore::Delete(const BlockKey& key) {
  const std::string body = internal::EncodeKeyBody(key);
  const absl::Time now = clock_();
  internal::MutexLock lock(&mu_);
  auto it = index_.find(body);
  if (it == index_.end()) return false;
  const bool live = it->second.expires_at > now;
  rocksdb::WriteBatch batch;
  DeleteRows(body, batch);
  if (absl::Status written = Write(batch); !written.ok()) return written;
  EraseFromIndex(body);
  if (!live) expirations_.fetch_add(1, std::memory_order_relaxed);
  return live;
}

std::vector<TierStats> DiskStore::Stats() {
  TierStats stats;
  stats.tier = "disk";
  stats.capacity_bytes = capacity_bytes_;
  {
    internal::ReaderMutexLock lock(&mu_);
    stats.blocks = index_.size();
    stats.bytes = bytes_;
  }
  stats.hits = hits_.load(std::memory_order_relaxed);
  stats.misses = misses_.load(std::memory_order_relaxed);
  stats.evictions = evictions_.load(std::memory_order_relaxed);
  stats.expirations = expirations_.load(std::memory_order_relaxed);
  return {stats};
}

}  // namespace gearkv::store
