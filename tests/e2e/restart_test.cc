// The disk tier across restarts: every block a server acknowledged is served, intact, by a new
// server on the same directory — after a clean SIGTERM drain and after a SIGKILL. And a second
// SIGTERM ends a drain at once.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e_util.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv::e2e {
namespace {

struct Stored {
  std::string preset;
  std::string raw_bytes;  // what a RAW Get answered before the restart
};

// Puts `count` blocks with every preset in turn; returns what each Get answered.
std::map<std::string, Stored> Fill(Client& client, int count, uint64_t seed) {
  std::map<std::string, Stored> stored;
  const std::vector<std::string> presets = {"none", "kivi4", "gear4", "gear2", "gearl4"};
  for (int i = 0; i < count; ++i) {
    const std::string key = absl::StrCat("blk-", i);
    const std::string preset = presets[i % presets.size()];
    const Tensor t = Gaussian({2, 2, 128, 64}, DType::kFloat16, seed + i);
    auto r = client.Put("restart", key, *AsKvView(t), WithPreset(preset));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) continue;
    auto got = client.Get("restart", key, WithEncoding(GetEncoding::kRaw));
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) continue;
    if (preset == "none") {
      EXPECT_TRUE(got->tensor.data == t.data);
    }
    stored[key] = Stored{preset, std::move(got->tensor.data)};
  }
  return stored;
}

void ExpectAllBack(Client& client, const std::map<std::string, Stored>& stored) {
  for (const auto& [key, s] : stored) {
    SCOPED_TRACE(key);
    for (GetEncoding e : {GetEncoding::kRaw, GetEncoding::kCompressed}) {
      auto got = client.Get("restart", key, WithEncoding(e));
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->preset, s.preset);
      EXPECT_TRUE(got->tensor.data == s.raw_bytes) << "block changed across the restart";
    }
  }
}

void RestartKeepsEveryAcknowledgedBlock(bool kill) {
  TempDir dir;
  const std::vector<std::string> flags = {"--memory_budget=64MiB",
                                          absl::StrCat("--disk_dir=", dir.path(), "/db"),
                                          "--disk_budget=256MiB", "--disk_policy=write_through"};
  const uint64_t seed = TestSeed();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::map<std::string, Stored> stored;
  {
    GEARKV_START_SERVER(server, flags);
    auto client = Connect(*server);
    ASSERT_NE(client, nullptr);
    stored = Fill(*client, 12, seed);
    ASSERT_EQ(stored.size(), 12u);
    ASSERT_TRUE(client->Delete("restart", "blk-0").ok());  // deletes survive restarts too
    stored.erase("blk-0");
    if (kill) {
      server->Kill();
    } else {
      auto code = server->Stop();
      ASSERT_TRUE(code.ok()) << code.status() << server->Output();
      EXPECT_EQ(*code, 0) << server->Output();
    }
  }
  GEARKV_START_SERVER(server, flags);
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->Get("restart", "blk-0").status().code(), absl::StatusCode::kNotFound);
  ExpectAllBack(*client, stored);
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_GE(stats->tiers.size(), 2u);
  EXPECT_EQ(stats->tiers[1].tier, "disk");
  EXPECT_EQ(stats->tiers[1].blocks, stored.size());
  // A second restart after reads (promotions to memory) changes nothing.
  ASSERT_TRUE(server->Stop().ok());
  GEARKV_START_SERVER(again, flags);
  auto client2 = Connect(*again);
  ASSERT_NE(client2, nullptr);
  ExpectAllBack(*client2, stored);
}

TEST(RestartTest, CleanShutdownKeepsEveryAcknowledgedBlock) {
  RestartKeepsEveryAcknowledgedBlock(/*kill=*/false);
}

TEST(RestartTest, KillKeepsEveryAcknowledgedBlock) {
  RestartKeepsEveryAcknowledgedBlock(/*kill=*/true);
}

TEST(RestartTest, MemoryEvictionsAreServedFromDisk) {
  TempDir dir;
  const TensorShape shape{1, 2, 128, 64};  // 32 KiB
  GEARKV_START_SERVER(server,
                      {"--memory_budget=100000", absl::StrCat("--disk_dir=", dir.path(), "/db"),
                       "--disk_budget=64MiB", "--disk_policy=spill_on_evict"});
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  std::vector<Tensor> blocks;
  for (int i = 0; i < 8; ++i) {
    blocks.push_back(Gaussian(shape, DType::kFloat16, 200 + i));
    ASSERT_TRUE(
        client->Put("spill", absl::StrCat("s", i), *AsKvView(blocks[i]), WithPreset("none")).ok());
  }
  for (int i = 0; i < 8; ++i) {
    auto got = client->Get("spill", absl::StrCat("s", i), WithEncoding(GetEncoding::kRaw));
    ASSERT_TRUE(got.ok()) << i << ": " << got.status();
    EXPECT_TRUE(got->tensor.data == blocks[i].data) << i;
  }
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_LE(stats->tiers.at(0).bytes, 100000u);
}

TEST(RestartTest, SecondSigtermEndsADrainAtOnce) {
  GEARKV_START_SERVER(server, {"--drain_deadline=300s"});
  // A Put that sent its header and nothing more holds the drain open until its deadline.
  auto channel = grpc::CreateChannel(server->target(), grpc::InsecureChannelCredentials());
  auto stub = v1::KVCache::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  v1::PutResponse response;
  auto writer = stub->Put(&context, &response);
  v1::PutRequest header;
  v1::PutHeader* h = header.mutable_header();
  h->set_namespace_("drain");
  h->set_key("held-open");
  h->mutable_shape()->set_layers(1);
  h->mutable_shape()->set_kv_heads(1);
  h->mutable_shape()->set_tokens(64);
  h->mutable_shape()->set_head_dim(64);
  h->set_dtype(v1::DTYPE_FLOAT16);
  ASSERT_TRUE(writer->Write(header));

  ASSERT_EQ(::kill(server->pid(), SIGTERM), 0);
  const absl::Time wait_until = absl::Now() + absl::Seconds(30);
  while (server->Output().find("draining") == std::string::npos && absl::Now() < wait_until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_THAT(server->Output(), testing::HasSubstr("draining"));
  absl::SleepFor(absl::Milliseconds(200));  // the drain is under way, the Put still open
  const absl::Time second = absl::Now();
  auto code = server->Stop(absl::Seconds(30));  // the second SIGTERM
  ASSERT_TRUE(code.ok()) << code.status() << server->Output();
  EXPECT_EQ(*code, 128 + SIGTERM) << server->Output();
  EXPECT_LT(absl::Now() - second, absl::Seconds(10));
  EXPECT_THAT(server->Output(), testing::HasSubstr("second"));
  context.TryCancel();
  writer->Finish().IgnoreError();
}

TEST(RestartTest, ALameDuckDrainAnswersNotServingBeforeTheListenerCloses) {
  GEARKV_START_SERVER(server, {"--lame_duck=3s", "--drain_deadline=5s"});
  const absl::Time start = absl::Now();
  ASSERT_EQ(::kill(server->pid(), SIGTERM), 0);
  const absl::Time wait_until = absl::Now() + absl::Seconds(2);
  while (server->Output().find("draining") == std::string::npos && absl::Now() < wait_until) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_THAT(server->Output(), testing::HasSubstr("draining"));
  // A new connection is accepted: its probe reads NOT_SERVING, a KVCache call UNAVAILABLE.
  ClientOptions options;
  options.target = server->target();
  options.own_connection = true;
  options.max_attempts = 1;
  options.default_deadline = absl::Seconds(1);
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  auto health = (*client)->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, HealthState::kNotServing);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3)) << "checked after the lame duck ended";
  EXPECT_EQ((*client)->Lookup("ns", {"k"}).status().code(), absl::StatusCode::kUnavailable);
  // Then the listener closes and the server exits.
  const absl::Time exit_by = absl::Now() + absl::Seconds(15);
  while (server->Output().find("stopped") == std::string::npos && absl::Now() < exit_by) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_THAT(server->Output(), testing::HasSubstr("stopped"));
  EXPECT_GE(absl::Now() - start, absl::Seconds(3)) << "the lame duck was cut short";
}

}  // namespace
}  // namespace gearkv::e2e
