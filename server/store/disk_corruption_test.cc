// Corruption at rest in the disk tier: bytes flipped in, files truncated or removed from a
// closed DiskStore's RocksDB directory (table, blob, log and MANIFEST files), then the store
// reopened. Every variant must end either in a refusal to open (FAILED_PRECONDITION naming the
// directory) or in a store where every block reads back as its exact bytes, DATA_LOSS or
// NOT_FOUND (never other bytes, never another code); a block that was DATA_LOSS is gone at once
// (Contains false, Get NOT_FOUND) and after a reopen; blocks lost without a DATA_LOSS are only
// the tail of the log's writes, and RocksDB's warning about them is logged.
//
// Deterministic: each trial's seed is printed with its outcome; GEARKV_CORRUPTION_SEED=<n>
// runs that seed alone for every variant.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "disk_test_files.h"
#include "gearkv/store/disk_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv::store {
namespace {

using ::gearkv::store::testing::FilesNamed;
using ::gearkv::store::testing::LogLines;
using ::gearkv::store::testing::ReadAll;
using ::gearkv::store::testing::WriteAll;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr int kSmallBlocks = 48;  // 1-3 KiB: stored inline in table files
constexpr int kLargeBlocks = 16;  // 64-160 KiB: stored in blob files
constexpr int kBlocks = kSmallBlocks + kLargeBlocks;
// The table layout: batches written across reopens, so that every variant ends with fewer than
// four level-0 table files and no compaction runs (the outcome does not depend on timing).
constexpr int kBatches = 2;
constexpr uint64_t kSeedsPerVariant = 6;

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

BlockKey Key(int i) { return BlockKey{"ns", absl::StrCat("block-", i)}; }

// Block i's bytes for a seed: random, so that no two blocks share a run of bytes.
std::string Payload(uint64_t seed, int i) {
  uint64_t state = seed * 1000003 + i;
  const size_t size =
      i < kSmallBlocks ? 1024 + SplitMix(state) % 2048 : (64 << 10) + SplitMix(state) % (96 << 10);
  std::string out(size, '\0');
  for (size_t j = 0; j < size; j += 8) {
    const uint64_t word = SplitMix(state);
    for (size_t b = 0; b < 8 && j + b < size; ++b) out[j + b] = static_cast<char>(word >> (8 * b));
  }
  return out;
}

// Where the blocks are when the damage is done: only in the log (the writer was killed), or in
// the table and blob files that the flush at each close writes. (Flushes while the store runs
// happen in the background, so the files they leave depend on timing; disk_damage_test.cc covers
// them.)
enum class Layout { kInLog, kInTables };
enum class Damage { kFlip, kTruncate, kRemove };

struct Variant {
  const char* name;
  Layout layout;
  const char* file;  // file name suffix ("MANIFEST": MANIFEST-*)
  Damage damage;
};

constexpr Variant kVariants[] = {
    {"table_flip", Layout::kInTables, ".sst", Damage::kFlip},
    {"table_truncate", Layout::kInTables, ".sst", Damage::kTruncate},
    {"table_remove", Layout::kInTables, ".sst", Damage::kRemove},
    {"blob_flip", Layout::kInTables, ".blob", Damage::kFlip},
    {"blob_truncate", Layout::kInTables, ".blob", Damage::kTruncate},
    {"blob_remove", Layout::kInTables, ".blob", Damage::kRemove},
    {"log_flip", Layout::kInLog, ".log", Damage::kFlip},
    {"log_truncate", Layout::kInLog, ".log", Damage::kTruncate},
    {"manifest_flip", Layout::kInTables, "MANIFEST", Damage::kFlip},
    {"manifest_truncate", Layout::kInTables, "MANIFEST", Damage::kTruncate},
    {"current_remove", Layout::kInTables, "CURRENT", Damage::kRemove},
};

class DiskCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat("gearkv_corrupt_", info->name(), "_", ::getpid());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  absl::StatusOr<std::unique_ptr<DiskStore>> Open(LogLines& log) {
    return DiskStore::Open(
        {.path = dir_.string(), .capacity_bytes = uint64_t{1} << 30, .log = log.Sink()});
  }

  // Writes the blocks of `seed`. kInTables: in batches, closing the store after each, which
  // flushes the batch to a table file (small blocks, index rows) and a blob file. kInLog: in a
  // child process that exits without closing anything, as a kill would.
  void Populate(uint64_t seed, Layout layout) {
    fs::remove_all(dir_);
    if (layout == Layout::kInLog) {
      const pid_t child = ::fork();
      ASSERT_GE(child, 0);
      if (child == 0) std::_Exit(WriteBlocks(seed, 0, kBlocks, /*close=*/false) ? 0 : 1);
      int wstatus = 0;
      ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
      ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "the writer failed";
      return;
    }
    const int per_batch = (kBlocks + kBatches - 1) / kBatches;
    for (int first = 0; first < kBlocks; first += per_batch) {
      ASSERT_TRUE(WriteBlocks(seed, first, std::min(kBlocks, first + per_batch), /*close=*/true));
    }
  }

  // Opens the store and writes the n-th to (end-1)-th blocks of the write order; without
  // `close`, leaves the store (and its log) open for the caller to exit.
  bool WriteBlocks(uint64_t seed, int first, int end, bool close) {
    static LogLines* const log = new LogLines;
    absl::StatusOr<std::unique_ptr<DiskStore>> store = Open(*log);
    if (!store.ok()) return false;
    for (int n = first; n < end; ++n) {
      const int i = WriteOrder(n);
      if (!(*store)
               ->Put(Key(i), std::make_shared<const std::string>(Payload(seed, i)),
                     absl::InfiniteFuture())
               .ok()) {
        return false;
      }
    }
    if (!close) (void)store->release();
    return true;
  }

  // The n-th block written: small and large blocks alternate while both last.
  static int WriteOrder(int n) {
    const int pairs = kLargeBlocks;
    if (n < 2 * pairs) return n % 2 == 0 ? n / 2 : kSmallBlocks + n / 2;
    return n - pairs;
  }

  // Damages one file the variant names; returns a description for the trace.
  std::string Corrupt(const Variant& variant, uint64_t seed) {
    uint64_t state = seed ^ 0xC0FFEE;
    std::vector<fs::path> files = FilesNamed(dir_, variant.file);
    std::erase_if(files, [](const fs::path& file) { return fs::file_size(file) == 0; });
    if (files.empty()) {
      ADD_FAILURE() << "no non-empty file named " << variant.file;
      return "nothing damaged";
    }
    const fs::path file = files[SplitMix(state) % files.size()];
    std::string bytes = ReadAll(file);
    std::string what = absl::StrCat(file.filename().string(), " (", bytes.size(), " bytes)");
    switch (variant.damage) {
      case Damage::kRemove:
        fs::remove(file);
        return absl::StrCat(what, " removed");
      case Damage::kTruncate: {
        const size_t size = bytes.empty() ? 0 : SplitMix(state) % bytes.size();
        bytes.resize(size);
        absl::StrAppend(&what, " truncated to ", size);
        break;
      }
      case Damage::kFlip: {
        const int flips = 1 + SplitMix(state) % 4;
        absl::StrAppend(&what, " flipped at");
        for (int f = 0; f < flips && !bytes.empty(); ++f) {
          const size_t at = SplitMix(state) % bytes.size();
          bytes[at] ^= static_cast<char>(1 + SplitMix(state) % 255);
          absl::StrAppend(&what, " ", at);
        }
        break;
      }
    }
    WriteAll(file, bytes);
    return what;
  }

  void RunTrial(const Variant& variant, uint64_t seed);

  fs::path dir_;
};

void DiskCorruptionTest::RunTrial(const Variant& variant, uint64_t seed) {
  SCOPED_TRACE(absl::StrCat("variant ", variant.name, ", GEARKV_CORRUPTION_SEED=", seed));
  Populate(seed, variant.layout);
  if (HasFatalFailure()) return;
  const std::string damage = Corrupt(variant, seed);
  SCOPED_TRACE(damage);

  LogLines log, reopen_log;  // before the store: RocksDB may log while it closes
  absl::StatusOr<std::unique_ptr<DiskStore>> store = Open(log);
  if (!store.ok()) {
    EXPECT_TRUE(absl::IsFailedPrecondition(store.status())) << store.status();
    EXPECT_THAT(store.status().message(), HasSubstr(dir_.string()));
    std::printf("[corruption] %-18s seed %2llu: refused to open: %s\n  damage: %s\n", variant.name,
                static_cast<unsigned long long>(seed),
                std::string(store.status().message()).c_str(), damage.c_str());
    return;
  }
  EXPECT_TRUE(log.Contains("recovered")) << "no recovery line logged";

  enum Outcome { kIntact, kDataLoss, kLost };
  std::vector<Outcome> outcome(kBlocks);
  int counts[3] = {0, 0, 0};
  for (int n = 0; n < kBlocks; ++n) {
    const int i = WriteOrder(n);
    const bool indexed = (*store)->Contains(Key(i));
    absl::StatusOr<BlockBytes> got = (*store)->Get(Key(i));
    if (got.ok()) {
      ASSERT_EQ(**got, Payload(seed, i)) << "block " << i << " read back other bytes";
      outcome[i] = kIntact;
    } else if (absl::IsDataLoss(got.status())) {
      EXPECT_TRUE(indexed) << "block " << i;
      EXPECT_THAT(got.status().message(), HasSubstr("dropped"));
      EXPECT_FALSE((*store)->Contains(Key(i))) << "block " << i << " still counted after DATA_LOSS";
      EXPECT_TRUE(absl::IsNotFound((*store)->Get(Key(i)).status())) << "block " << i;
      outcome[i] = kDataLoss;
    } else {
      ASSERT_TRUE(absl::IsNotFound(got.status())) << "block " << i << ": " << got.status();
      EXPECT_FALSE((*store)->Contains(Key(i))) << "block " << i;
      outcome[i] = kLost;
    }
    ++counts[outcome[i]];
  }
  // Blocks lost without a DATA_LOSS: only the log's last writes (a prefix of the writes is
  // recovered), and only with a RocksDB warning in the log.
  if (counts[kLost] > 0) {
    EXPECT_EQ(variant.layout, Layout::kInLog) << counts[kLost] << " blocks lost silently";
    bool lost_seen = false;
    for (int n = 0; n < kBlocks; ++n) {
      const Outcome o = outcome[WriteOrder(n)];
      if (o == kLost) lost_seen = true;
      if (lost_seen) {
        EXPECT_EQ(o, kLost) << "block " << WriteOrder(n) << " after a lost one";
      }
    }
    EXPECT_TRUE(log.Contains("RocksDB warning")) << "blocks lost, nothing logged";
  }
  std::printf("[corruption] %-18s seed %2llu: %d intact, %d DATA_LOSS, %d lost\n  damage: %s\n",
              variant.name, static_cast<unsigned long long>(seed), counts[kIntact],
              counts[kDataLoss], counts[kLost], damage.c_str());
  for (const std::string& line : log.Lines()) std::printf("  log: %s\n", line.c_str());

  // The drops are on disk: a reopen serves the intact blocks and none of the dropped ones.
  store->reset();
  store = Open(reopen_log);
  ASSERT_TRUE(store.ok()) << store.status();
  for (int i = 0; i < kBlocks; ++i) {
    absl::StatusOr<BlockBytes> got = (*store)->Get(Key(i));
    if (outcome[i] == kIntact) {
      ASSERT_TRUE(got.ok()) << "block " << i << ": " << got.status();
      EXPECT_EQ(**got, Payload(seed, i)) << "block " << i;
    } else {
      EXPECT_TRUE(absl::IsNotFound(got.status())) << "block " << i << ": " << got.status();
    }
  }
}

uint64_t FirstSeed() {
  const char* env = std::getenv("GEARKV_CORRUPTION_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 1;
}

uint64_t SeedCount() {
  return std::getenv("GEARKV_CORRUPTION_SEED") != nullptr ? 1 : kSeedsPerVariant;
}

TEST_F(DiskCorruptionTest, EveryVariantRefusesOrReportsTheDamagedBlocks) {
  for (const Variant& variant : kVariants) {
    for (uint64_t seed = FirstSeed(); seed < FirstSeed() + SeedCount(); ++seed) {
      RunTrial(variant, seed);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace gearkv::store
