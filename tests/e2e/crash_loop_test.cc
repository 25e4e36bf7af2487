// Crash loop on the disk tier with an expected-state oracle (the model: RocksDB's crash test).
//
// Each cycle starts gearkv-server on the same RocksDB directory, first verifies every key the
// oracle knows, then runs writers (each with its own connection and its own keys, so each key's
// operations are sequential) putting new versions of their keys and sometimes deleting them,
// and SIGKILLs the server at a random moment. After the restart every key must hold exactly
// what the oracle allows: its last acknowledged state, or the state of the one operation that
// was in flight when the server died (a writer stops at its first failure, so there is at most
// one). Blocks are compared byte for byte as stored (a COMPRESSED Get, not decoded) against
// the CPU codec's block of the same tensor and preset (compression is deterministic), so
// lossless and lossy presets are both checked exactly, and a block mixing two versions fails.
//
// $GEARKV_CRASH_CYCLES sets the number of cycles (20 by default; the long mode quoted in the
// README is 200: GEARKV_CRASH_CYCLES=200 build/release/tests/gearkv_e2e_test
// --gtest_filter='CrashLoop*').
#include <atomic>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "e2e_util.h"
#include "gearkv/codec.h"
#include "gtest/gtest.h"

namespace gearkv::e2e {
namespace {

constexpr char kNs[] = "crash";
constexpr int kWriters = 3;
constexpr int kKeysPerWriter = 48;
constexpr TensorShape kShape{2, 2, 64, 64};  // 64 KiB of fp16
const char* const kPresets[] = {"none", "gear4", "kivi2"};

// A key's state: absent, or version v (v >= 1) of its content.
using State = std::optional<uint64_t>;

std::string KeyName(int key) { return absl::StrCat("k", key); }

// The content of version `version` of `key`, and its preset.
Tensor Content(int key, uint64_t version) {
  return Gaussian(kShape, DType::kFloat16, static_cast<uint64_t>(key) * 1000003 + version);
}
std::string PresetOf(uint64_t version) { return kPresets[version % 3]; }

// What the oracle knows of one key: the acknowledged state and the state of an operation whose
// outcome is unknown (the server died before answering).
struct KeyOracle {
  State acked;
  std::optional<State> pending;
};

int Cycles() {
  int cycles = 20;
  if (const char* env = std::getenv("GEARKV_CRASH_CYCLES")) {
    EXPECT_TRUE(absl::SimpleAtoi(env, &cycles)) << "GEARKV_CRASH_CYCLES=" << env;
  }
  return cycles;
}

std::unique_ptr<Client> ConnectOnce(const ServerProcess& server) {
  ClientOptions options;
  options.target = server.target();
  options.own_connection = true;
  options.max_attempts = 1;  // an outcome is either acknowledged or unknown, never retried
  options.default_deadline = absl::Seconds(10);
  auto client = Client::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

class Oracle {
 public:
  explicit Oracle(const Codec& codec) : codec_(codec) {}

  // Checks `key` against a live server; on success its state becomes what was found.
  void Verify(Client& client, int key, uint64_t* verified) {
    KeyOracle& k = keys_[key];
    GetOptions stored_bytes;
    stored_bytes.decompress = false;
    auto got = client.Get(kNs, KeyName(key), stored_bytes);
    State found;
    if (got.ok()) {
      bool matched = false;
      for (const State& s : Allowed(k)) {
        if (s.has_value() && got->block == ExpectedBlock(key, *s)) {
          found = s;
          matched = true;
          break;
        }
      }
      ASSERT_TRUE(matched) << KeyName(key) << ": the stored block is none of the allowed "
                           << "versions (acked " << Describe(k.acked) << ", pending "
                           << (k.pending ? Describe(*k.pending) : "none") << ")";
      ++*verified;
    } else {
      ASSERT_EQ(got.status().code(), absl::StatusCode::kNotFound) << got.status();
      bool absent_allowed = false;
      for (const State& s : Allowed(k)) absent_allowed |= !s.has_value();
      ASSERT_TRUE(absent_allowed) << KeyName(key) << " is gone, but version " << Describe(k.acked)
                                  << " was acknowledged";
    }
    k.acked = found;
    k.pending.reset();
  }

  State Acked(int key) const {
    auto it = keys_.find(key);
    return it == keys_.end() ? State{} : it->second.acked;
  }
  void Ack(int key, State s) { keys_[key].acked = s; }
  void Pend(int key, State s) { keys_[key].pending = s; }
  const std::map<int, KeyOracle>& keys() const { return keys_; }

 private:
  static std::vector<State> Allowed(const KeyOracle& k) {
    std::vector<State> allowed = {k.acked};
    if (k.pending) allowed.push_back(*k.pending);
    return allowed;
  }
  static std::string Describe(const State& s) {
    return s ? absl::StrCat("v", *s) : std::string("absent");
  }
  const std::string& ExpectedBlock(int key, uint64_t version) {
    auto [it, inserted] = blocks_.try_emplace({key, version});
    if (inserted) {
      const Tensor t = Content(key, version);
      auto block = codec_.Compress(*AsKvView(t), *PresetSpec(PresetOf(version)));
      EXPECT_TRUE(block.ok()) << block.status();
      if (block.ok()) it->second = std::move(block->bytes);
    }
    return it->second;
  }

  const Codec& codec_;
  std::map<int, KeyOracle> keys_;
  std::map<std::pair<int, uint64_t>, std::string> blocks_;  // expected blocks, memoized
};

// One writer's run: operations on its own keys until the first failure or `stop`.
struct WriterLog {
  std::vector<std::pair<int, State>> acked;  // in order
  std::optional<std::pair<int, State>> unknown;
};

WriterLog RunWriter(const ServerProcess& server, int writer, std::map<int, uint64_t> next_version,
                    std::map<int, State> states, uint64_t seed, const std::atomic<bool>& stop) {
  WriterLog log;
  auto client = ConnectOnce(server);
  if (client == nullptr) return log;
  std::mt19937_64 rng(seed);
  while (!stop.load()) {
    const int key = writer * kKeysPerWriter + static_cast<int>(rng() % kKeysPerWriter);
    State target;
    absl::Status status;
    if (rng() % 10 == 0 && states[key].has_value()) {
      status = client->Delete(kNs, KeyName(key)).status();
    } else {
      const uint64_t v = next_version[key]++;
      target = v;
      const Tensor t = Content(key, v);
      PutOptions put;
      put.codec.preset = PresetOf(v);
      status = client->Put(kNs, KeyName(key), *AsKvView(t), put).status();
    }
    if (!status.ok()) {
      log.unknown = {key, target};
      break;
    }
    states[key] = target;
    log.acked.emplace_back(key, target);
  }
  return log;
}

TEST(CrashLoopTest, EveryAcknowledgedBlockSurvivesKillNine) {
  TempDir dir;
  const std::vector<std::string> flags = {"--backend=cpu", "--memory_budget=8MiB",
                                          absl::StrCat("--disk_dir=", dir.path(), "/db"),
                                          "--disk_budget=512MiB", "--disk_policy=write_through"};
  const uint64_t seed = TestSeed();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  auto codec = MakeCodec(Backend::kCpu);
  ASSERT_TRUE(codec.ok());
  Oracle oracle(**codec);
  std::map<int, uint64_t> next_version;  // per key, so a version is never reused
  for (int key = 0; key < kWriters * kKeysPerWriter; ++key) next_version[key] = 1;
  std::mt19937_64 rng(seed);
  uint64_t acked_ops = 0, verified = 0, unknown_ops = 0;
  const int cycles = Cycles();
  for (int cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle));
    GEARKV_START_SERVER(server, flags);
    {
      auto client = ConnectOnce(*server);
      ASSERT_NE(client, nullptr);
      std::vector<int> known;
      for (const auto& [key, k] : oracle.keys()) known.push_back(key);
      for (int key : known) {
        ASSERT_NO_FATAL_FAILURE(oracle.Verify(*client, key, &verified)) << server->Output();
      }
    }
    std::atomic<bool> stop{false};
    std::vector<WriterLog> logs(kWriters);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      std::map<int, State> states;
      for (int i = 0; i < kKeysPerWriter; ++i) {
        states[w * kKeysPerWriter + i] = oracle.Acked(w * kKeysPerWriter + i);
      }
      writers.emplace_back([&, w, states] {
        logs[w] = RunWriter(*server, w, next_version, states, rng() + w, stop);
      });
    }
    absl::SleepFor(absl::Milliseconds(200 + rng() % 1300));
    server->Kill();
    stop.store(true);
    for (auto& t : writers) t.join();
    for (const WriterLog& log : logs) {
      for (const auto& [key, state] : log.acked) {
        oracle.Ack(key, state);
        if (state) next_version[key] = std::max(next_version[key], *state + 1);
        ++acked_ops;
      }
      if (log.unknown) {
        const auto& [key, state] = *log.unknown;
        oracle.Pend(key, state);
        if (state) next_version[key] = std::max(next_version[key], *state + 1);
        ++unknown_ops;
      }
    }
  }
  // The last cycle's writes are verified by one more start.
  GEARKV_START_SERVER(server, flags);
  auto client = ConnectOnce(*server);
  ASSERT_NE(client, nullptr);
  std::vector<int> known;
  for (const auto& [key, k] : oracle.keys()) known.push_back(key);
  for (int key : known) ASSERT_NO_FATAL_FAILURE(oracle.Verify(*client, key, &verified));
  EXPECT_GT(acked_ops, uint64_t(cycles)) << "the load barely ran";
  std::printf(
      "crash loop: %d cycles of kill -9, %llu acknowledged operations, %llu in flight at a "
      "kill, %llu blocks verified byte for byte\n",
      cycles, static_cast<unsigned long long>(acked_ops),
      static_cast<unsigned long long>(unknown_ops), static_cast<unsigned long long>(verified));
}

}  // namespace
}  // namespace gearkv::e2e
