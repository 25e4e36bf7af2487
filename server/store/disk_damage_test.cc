// Damage that RocksDB itself finds in the disk tier: a table or blob file whose checksum fails or
// that is missing (DATA_LOSS, the block dropped, Lookup's Contains false at once, also through a
// TieredStore), a MANIFEST that lost records of files flushed while the store ran (refused), a
// compaction meeting a damaged file (writes stop, the next Open refuses), and files that the
// database no longer references (removed at Open).
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "disk_test_files.h"
#include "gearkv/store/disk_store.h"
#include "gearkv/store/memory_store.h"
#include "gearkv/store/tiered_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv::store {
namespace {

using ::gearkv::store::testing::FilesNamed;
using ::gearkv::store::testing::FlipInside;
using ::gearkv::store::testing::LogLines;
using ::gearkv::store::testing::ReadAll;
using ::gearkv::store::testing::WriteAll;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

BlockKey Key(int i) { return BlockKey{"ns", absl::StrCat("k", i)}; }

// Distinct bytes for every (block, size), so that a search of a file finds one block only.
std::string Payload(int i, size_t size) {
  std::string out(size, '\0');
  uint64_t x = 0x9E3779B97F4A7C15u * (i + 1);
  for (char& c : out) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  return out;
}

class DiskDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat("gearkv_damage_", info->name(), "_", ::getpid());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  absl::StatusOr<std::unique_ptr<DiskStore>> Open(uint64_t write_buffer = 64 << 20) {
    return DiskStore::Open({.path = dir_.string(),
                            .capacity_bytes = uint64_t{1} << 30,
                            .log = log_.Sink(),
                            .write_buffer_bytes = write_buffer});
  }
  std::unique_ptr<DiskStore> MustOpen(uint64_t write_buffer = 64 << 20) {
    absl::StatusOr<std::unique_ptr<DiskStore>> store = Open(write_buffer);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  // Puts blocks 0..n-1 of `size` bytes (Payload(i, size)), never expiring.
  static void PutBlocks(DiskStore& store, int n, size_t size) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(store
                      .Put(Key(i), std::make_shared<const std::string>(Payload(i, size)),
                           absl::InfiniteFuture())
                      .ok());
    }
  }
  // Blocks 0..n-1 of `size` bytes, then a reopen, which flushes them to table and blob files.
  void WriteAndFlush(int n, size_t size) {
    {
      auto store = MustOpen();
      ASSERT_NE(store, nullptr);
      ASSERT_NO_FATAL_FAILURE(PutBlocks(*store, n, size));
    }
    ASSERT_NE(MustOpen(), nullptr);
  }

  fs::path dir_;
  LogLines log_;
};

TEST_F(DiskDamageTest, TableChecksumFailureIsDataLossAndDroppedEverywhere) {
  WriteAndFlush(8, 2000);  // small blocks: inline in the table file
  ASSERT_FALSE(FlipInside(dir_, ".sst", Payload(3, 2000).substr(600, 64)).empty());
  {
    auto memory = std::make_unique<MemoryStore>(MemoryStoreOptions{.capacity_bytes = 1 << 20});
    TieredStore store(std::move(memory), MustOpen(), {});
    ASSERT_TRUE(store.Contains(Key(3)));  // Lookup: not read yet
    absl::StatusOr<BlockBytes> got = store.Get(Key(3));
    ASSERT_TRUE(absl::IsDataLoss(got.status())) << got.status();
    EXPECT_THAT(got.status().message(), HasSubstr("Corruption"));
    EXPECT_THAT(got.status().message(), HasSubstr("dropped"));
    EXPECT_FALSE(store.Contains(Key(3)));  // Lookup stops counting it at once
    EXPECT_TRUE(absl::IsNotFound(store.Get(Key(3)).status()));
    EXPECT_EQ(store.Stats().at(1).blocks, 7u);
    // Blocks sharing the damaged RocksDB block fail too; the others read back exactly.
    for (int i = 0; i < 8; ++i) {
      if (i == 3) continue;
      got = store.Get(Key(i));
      if (got.ok()) {
        EXPECT_EQ(**got, Payload(i, 2000)) << i;
      } else {
        EXPECT_TRUE(absl::IsDataLoss(got.status())) << i << ": " << got.status();
        EXPECT_FALSE(store.Contains(Key(i))) << i;
      }
    }
  }
  auto store = MustOpen();  // the drop was written
  EXPECT_TRUE(absl::IsNotFound(store->Get(Key(3)).status()));
  EXPECT_FALSE(store->Contains(Key(3)));
}

TEST_F(DiskDamageTest, MissingBlobFileIsDataLossNotUnavailable) {
  WriteAndFlush(3, 100 << 10);  // large blocks: in a blob file
  const std::vector<fs::path> blobs = FilesNamed(dir_, ".blob");
  ASSERT_EQ(blobs.size(), 1u);
  fs::remove(blobs[0]);
  {
    auto store = MustOpen();
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(store->Contains(Key(i)));
      const absl::Status status = store->Get(Key(i)).status();
      EXPECT_TRUE(absl::IsDataLoss(status)) << status;  // not UNAVAILABLE: no retry helps
      EXPECT_THAT(status.message(), HasSubstr("dropped"));
      EXPECT_FALSE(store->Contains(Key(i)));
      EXPECT_TRUE(absl::IsNotFound(store->Get(Key(i)).status()));
    }
    EXPECT_EQ(store->Stats().at(0).blocks, 0u);
  }
  EXPECT_EQ(MustOpen()->Stats().at(0).blocks, 0u);
}

// Flushes while the store runs (a small memtable) record flush marks; losing the MANIFEST's last
// records then either refuses to open or loses nothing.
TEST_F(DiskDamageTest, ManifestCutAfterFlushesWhileRunningRefusesOrLosesNothing) {
  constexpr int kN = 24;
  constexpr size_t kSize = 96 << 10;
  int refused = 0;
  for (const size_t cut : {1, 16, 48, 96}) {
    SCOPED_TRACE(absl::StrCat("MANIFEST cut by ", cut, " bytes"));
    fs::remove_all(dir_);
    {
      auto store = MustOpen(/*write_buffer=*/256 << 10);
      ASSERT_NE(store, nullptr);
      ASSERT_NO_FATAL_FAILURE(PutBlocks(*store, kN, kSize));
    }
    ASSERT_FALSE(FilesNamed(dir_, ".sst").empty()) << "no flush while running";
    const fs::path manifest = FilesNamed(dir_, "MANIFEST").back();
    std::string bytes = ReadAll(manifest);
    bytes.resize(bytes.size() > cut ? bytes.size() - cut : 0);
    WriteAll(manifest, bytes);

    absl::StatusOr<std::unique_ptr<DiskStore>> store = Open();
    if (!store.ok()) {
      EXPECT_TRUE(absl::IsFailedPrecondition(store.status())) << store.status();
      EXPECT_THAT(store.status().message(), HasSubstr(dir_.string()));
      ++refused;
      std::printf("[manifest cut %zu] refused: %s\n", cut,
                  std::string(store.status().message()).c_str());
      continue;
    }
    for (int i = 0; i < kN; ++i) {
      absl::StatusOr<BlockBytes> got = (*store)->Get(Key(i));
      ASSERT_TRUE(got.ok()) << "block " << i << " lost: " << got.status();
      EXPECT_EQ(**got, Payload(i, kSize));
    }
    std::printf("[manifest cut %zu] opened, all %d blocks intact\n", cut, kN);
  }
  EXPECT_GT(refused, 0) << "no cut reached a flush record";
}

TEST_F(DiskDamageTest, CompactionMeetingDamageStopsWritesAndTheNextOpenRefuses) {
  WriteAndFlush(8, 2000);
  ASSERT_FALSE(FlipInside(dir_, ".sst", Payload(5, 2000).substr(900, 64)).empty());
  {
    auto store = MustOpen(/*write_buffer=*/128 << 10);
    ASSERT_NE(store, nullptr);
    // Enough flushes for a level-0 compaction, which must read the damaged file.
    absl::Status put;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (int i = 100; put.ok() && std::chrono::steady_clock::now() < deadline; ++i) {
      put = store->Put(Key(i), std::make_shared<const std::string>(Payload(i, 40 << 10)),
                       absl::InfiniteFuture());
      if (i > 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_FALSE(put.ok()) << "no compaction failed within 30 s";
    EXPECT_TRUE(absl::IsInternal(put)) << put;  // neither DATA_LOSS nor UNAVAILABLE
    EXPECT_TRUE(log_.Contains("RocksDB stopped writes")) << "nothing logged";
    // Reads still work.
    absl::StatusOr<BlockBytes> got = store->Get(Key(100));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(**got, Payload(100, 40 << 10));
  }
  absl::StatusOr<std::unique_ptr<DiskStore>> reopened = Open();
  ASSERT_TRUE(absl::IsFailedPrecondition(reopened.status())) << reopened.status();
  EXPECT_THAT(reopened.status().message(), HasSubstr("GEARKV-DAMAGED"));
  EXPECT_THAT(reopened.status().message(), HasSubstr("move the directory aside"));
}

TEST_F(DiskDamageTest, UnreferencedFilesAreRemovedAtOpen) {
  WriteAndFlush(4, 100 << 10);
  const fs::path stray_table = dir_ / "009990.sst";
  const fs::path stray_blob = dir_ / "009991.blob";
  WriteAll(stray_table, std::string(5000, 't'));
  WriteAll(stray_blob, std::string(7000, 'b'));
  auto store = MustOpen();
  EXPECT_FALSE(fs::exists(stray_table));
  EXPECT_FALSE(fs::exists(stray_blob));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(**store->Get(Key(i)), Payload(i, 100 << 10));
}

TEST_F(DiskDamageTest, OpenLogsWhatItRecovered) {
  WriteAndFlush(5, 1000);
  EXPECT_TRUE(log_.Contains(absl::StrCat("disk tier: opened ", dir_.string(),
                                         ": recovered 5 blocks (", 5 * (2 + 2 + 1000), " bytes)")))
      << ::testing::PrintToString(log_.Lines());
}

}  // namespace
}  // namespace gearkv::store
