// Soak: a load of puts and gets at three times the memory budget for a fixed time, with the
// server's RSS sampled every second. The peak must stay within the memory model the README
// states ("Memory"): memory_budget + max_inflight_bytes * 9/8 (tensors in flight plus the idle
// buffers kept for reuse) + a fixed overhead (code, gRPC, thread stacks, codec scratch,
// transport buffers) of at most kFixedOverhead. Every get answers the block put under its key
// or NOT_FOUND (evicted); nothing else fails.
//
// $GEARKV_SOAK_SECONDS sets the duration (60 by default; the long mode is 1800:
// GEARKV_SOAK_SECONDS=1800 build/release/tests/gearkv_e2e_test --gtest_filter='Soak*').
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e_util.h"
#include "gtest/gtest.h"

namespace gearkv::e2e {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kMemoryBudget = 64 * kMiB;
constexpr uint64_t kMaxInflight = 64 * kMiB;
// Measured: ~22 MiB at rest; ~60-80 MiB over it under this load (bench/results/rss.md).
constexpr uint64_t kFixedOverhead = 128 * kMiB;
constexpr int kClients = 4;
constexpr TensorShape kShape{4, 8, 256, 128};  // 4 MiB of fp16

int SoakSeconds() {
  int seconds = 60;
  if (const char* env = std::getenv("GEARKV_SOAK_SECONDS")) {
    EXPECT_TRUE(absl::SimpleAtoi(env, &seconds)) << "GEARKV_SOAK_SECONDS=" << env;
  }
  return seconds;
}

// VmRSS of `pid` in bytes, 0 when unreadable.
uint64_t ResidentBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    uint64_t kib = 0;
    if (line.rfind("VmRSS:", 0) == 0 &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(6, line.size() - 9)), &kib)) {
      return kib * 1024;
    }
  }
  return 0;
}

TEST(SoakTest, RssStaysWithinTheMemoryModelUnderLoadAtThreeTimesTheBudget) {
  GEARKV_START_SERVER(server,
                      {"--backend=cpu", absl::StrCat("--memory_budget=", kMemoryBudget),
                       absl::StrCat("--max_inflight_bytes=", kMaxInflight),
                       absl::StrCat("--max_block_bytes=", 16 * kMiB), "--worker_queue_depth=1024"});
  const uint64_t model = kMemoryBudget + kMaxInflight * 9 / 8 + kFixedOverhead;
  // Keys spanning three times the budget in stored (compressed) bytes: gear4 stores a 4 MiB
  // block in ~1.2 MiB, none in 4 MiB.
  constexpr int kKeys = 96;
  std::vector<Tensor> contents;
  for (int i = 0; i < 8; ++i) contents.push_back(Gaussian(kShape, DType::kFloat16, 500 + i));
  const absl::Time end = absl::Now() + absl::Seconds(SoakSeconds());
  std::atomic<uint64_t> puts{0}, hits{0}, misses{0}, failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      ClientOptions options;
      options.target = server->target();
      options.own_connection = true;
      options.retry_resource_exhausted = true;  // a full worker queue is waited out
      auto client = Client::Create(options);
      ASSERT_TRUE(client.ok()) << client.status();
      std::mt19937_64 rng(c);
      std::vector<char> out(kShape.NumElements() * 2);
      while (absl::Now() < end) {
        // Key k always holds contents[k % 8] with preset (k % 3 ? gear4 : none), so a get can
        // be checked without knowing which put landed last.
        const int key = static_cast<int>(rng() % kKeys);
        const std::string name = absl::StrCat("soak-", key);
        if (rng() % 2 == 0) {
          PutOptions put;
          put.codec.preset = key % 3 ? "gear4" : "none";
          auto r = (*client)->Put("soak", name, *AsKvView(contents[key % 8]), put);
          if (r.ok()) {
            ++puts;
          } else {
            ++failures;
            ADD_FAILURE() << "put: " << r.status();
          }
        } else {
          MutableTensorView view{kShape, DType::kFloat16, out.data()};
          auto r = (*client)->GetInto("soak", name, view);
          if (r.ok()) {
            ++hits;
            if (key % 3 == 0) {
              EXPECT_EQ(std::memcmp(out.data(), contents[key % 8].data.data(), out.size()), 0)
                  << name << ": a lossless block came back changed";
            }
          } else if (r.status().code() == absl::StatusCode::kNotFound) {
            ++misses;
          } else {
            ++failures;
            ADD_FAILURE() << "get: " << r.status();
          }
        }
      }
    });
  }
  uint64_t peak = 0, samples = 0;
  while (absl::Now() < end) {
    peak = std::max(peak, ResidentBytes(server->pid()));
    ++samples;
    absl::SleepFor(absl::Seconds(1));
  }
  for (auto& t : clients) t.join();
  peak = std::max(peak, ResidentBytes(server->pid()));
  std::printf(
      "soak: %d s, %llu puts, %llu hits, %llu misses, %llu failures; peak RSS %.1f MiB "
      "(%llu samples), model %.1f MiB\n",
      SoakSeconds(), static_cast<unsigned long long>(puts.load()),
      static_cast<unsigned long long>(hits.load()), static_cast<unsigned long long>(misses.load()),
      static_cast<unsigned long long>(failures.load()), peak / double(kMiB),
      static_cast<unsigned long long>(samples), model / double(kMiB));
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_GT(puts.load(), 0u);
  EXPECT_GT(misses.load(), 0u) << "the load never went past the memory budget";
  EXPECT_LE(peak, model) << "peak RSS over the memory model";
}

}  // namespace
}  // namespace gearkv::e2e
