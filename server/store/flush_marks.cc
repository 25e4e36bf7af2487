#include "flush_marks.h"

#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "disk_rocks.h"
#include "rocksdb/db.h"
#include "rocksdb/listener.h"
#include "rocksdb/write_batch.h"

namespace gearkv::store::internal {
namespace {

constexpr char kMarkPrefix = 'f';
constexpr char kRecordName[] = "GEARKV-FLUSHED";

std::string MarkKey(uint64_t mark) {
  std::string key(9, '\0');
  key[0] = kMarkPrefix;
  for (int i = 0; i < 8; ++i) key[1 + i] = static_cast<char>(mark >> (56 - 8 * i));
  return key;
}

uint64_t MarkOf(std::string_view key) {
  uint64_t mark = 0;
  for (int i = 0; i < 8; ++i) mark = (mark << 8) | static_cast<unsigned char>(key[1 + i]);
  return mark;
}

std::string Damaged(const std::string& dir, absl::string_view why) {
  return absl::StrCat("disk tier: the database at ", dir, " is damaged: ", why,
                      "; move the directory aside (or delete it) to start with an empty disk tier");
}

}  // namespace

class FlushMarks::Listener final : public rocksdb::EventListener {
 public:
  explicit Listener(FlushMarks* marks) : marks_(marks) {}
  void OnFlushCompleted(rocksdb::DB* /*db*/, const rocksdb::FlushJobInfo& info) override {
    marks_->Flushed(info.largest_seqno);
  }
  void OnMemTableSealed(const rocksdb::MemTableInfo& /*info*/) override { marks_->Sealed(); }

 private:
  FlushMarks* const marks_;
};

FlushMarks::FlushMarks(std::string dir, DiskLog log)
    : dir_(std::move(dir)), record_path_(dir_ + "/" + kRecordName), log_(std::move(log)) {}

std::shared_ptr<rocksdb::EventListener> FlushMarks::MakeListener() {
  return std::make_shared<Listener>(this);
}

absl::Status FlushMarks::Recover(rocksdb::DB& db) {
  // What the last run recorded as flushed.
  uint64_t recorded = 0;
  bool has_record = false;
  if (std::ifstream in(record_path_); in) {
    std::string text((std::istreambuf_iterator<char>(in)), {});
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &recorded)) {
      return absl::FailedPreconditionError(
          Damaged(dir_, absl::StrCat(record_path_, " does not hold a mark number")));
    }
    has_record = true;
  }
  // Everything recovered goes to table files first, so that every mark present is flushed.
  if (rocksdb::Status s = db.Flush(rocksdb::FlushOptions()); !s.ok()) {
    return absl::FailedPreconditionError(
        Damaged(dir_, absl::StrCat("flushing what was recovered failed (", s.ToString(), ")")));
  }
  if (has_record) {
    std::string value;
    const rocksdb::Status s = db.Get(rocksdb::ReadOptions(), MarkKey(recorded), &value);
    if (s.IsNotFound()) {
      return absl::FailedPreconditionError(Damaged(
          dir_, absl::StrCat("flush mark ", recorded, " (", record_path_,
                             ") is missing: RocksDB's MANIFEST lost the record of table files it "
                             "once listed (truncated, or an older copy), and the blocks in those "
                             "files are gone")));
    }
    if (!s.ok()) {
      return absl::FailedPreconditionError(Damaged(
          dir_, absl::StrCat("reading flush mark ", recorded, " failed (", s.ToString(), ")")));
    }
  }
  std::vector<uint64_t> present;
  {
    const std::string lower(1, kMarkPrefix);
    const std::string upper(1, kMarkPrefix + 1);
    rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(read_options));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      if (it->key().size() == 9) present.push_back(MarkOf(it->key().ToStringView()));
    }
    if (!it->status().ok()) {
      return absl::FailedPreconditionError(Damaged(
          dir_, absl::StrCat("reading the flush marks failed (", it->status().ToString(), ")")));
    }
  }
  const uint64_t newest = present.empty() ? 0 : present.back();
  if (newest > 0 && (!has_record || newest != recorded)) {
    if (absl::Status recorded_now = Record(newest); !recorded_now.ok()) return recorded_now;
  }
  if (present.size() > 1) {  // the older marks are no longer needed
    rocksdb::WriteBatch batch;
    for (const uint64_t mark : present) {
      if (mark < newest) batch.Delete(MarkKey(mark)).PermitUncheckedError();
    }
    if (rocksdb::Status s = db.Write(rocksdb::WriteOptions(), &batch); !s.ok()) {
      return absl::InternalError(
          absl::StrCat("disk tier: deleting old flush marks: ", s.ToString()));
    }
  }
  // The first write after Open starts the memtable's mark, so that a reopen without writes
  // leaves the log empty.
  MutexLock lock(&mu_);
  pending_.clear();
  next_ = newest + 1;
  needed_ = true;
  return absl::OkStatus();
}

void FlushMarks::AddTo(rocksdb::WriteBatch& batch) {
  MutexLock lock(&mu_);
  if (!needed_) return;
  batch.Put(MarkKey(next_), "").PermitUncheckedError();
  added_ = true;
}

void FlushMarks::AfterWrite(bool ok, uint64_t latest_sequence) {
  MutexLock lock(&mu_);
  if (!added_) return;
  added_ = false;
  if (!ok) return;
  pending_.push_back({next_++, latest_sequence});
  needed_ = false;
}

void FlushMarks::Sealed() {
  MutexLock lock(&mu_);
  needed_ = true;
}

void FlushMarks::Flushed(uint64_t largest_seqno) {
  MutexLock lock(&mu_);
  // Memtables are flushed oldest first and a batch never spans two, so every pending mark whose
  // batch ends at or before the flushed file's last sequence number is in a flushed file.
  uint64_t flushed = 0;
  while (!pending_.empty() && pending_.front().sequence <= largest_seqno) {
    flushed = pending_.front().mark;
    pending_.pop_front();
  }
  if (flushed == 0) return;
  if (absl::Status recorded = Record(flushed); !recorded.ok()) {
    log_(absl::StrCat(recorded.message(), " (the next flush records a newer mark)"));
  }
}

absl::Status FlushMarks::Record(uint64_t mark) {
  return WriteFileDurably(dir_, kRecordName, absl::StrCat(mark, "\n"));
}

}  // namespace gearkv::store::internal
