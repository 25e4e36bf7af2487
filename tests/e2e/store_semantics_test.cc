// Lookup prefix semantics, Delete, TTL expiry and LRU eviction under a small memory budget,
// through a real gearkv-server.
#include "absl/strings/str_cat.h"
#include "e2e_util.h"
#include "gtest/gtest.h"

namespace gearkv::e2e {
namespace {

bool Exists(Client& client, const std::string& ns, const std::string& key) {
  auto r = client.Lookup(ns, {key});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() && r->exists.at(0);
}

TEST(StoreSemanticsTest, LookupReportsExistenceAndTheContiguousPrefixHit) {
  GEARKV_START_SERVER(server, {"--memory_budget=64MiB"});
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  const Tensor t = Gaussian({1, 2, 64, 64}, DType::kFloat16, 3);
  // Prefix-chained chunk keys c0 c1 c2 c3 c4; c2 is missing.
  for (const char* k : {"c0", "c1", "c3", "c4"}) {
    ASSERT_TRUE(client->Put("model-a", k, *AsKvView(t), WithPreset("kivi4")).ok());
  }
  const std::vector<std::string> chain = {"c0", "c1", "c2", "c3", "c4"};
  auto r = client->Lookup("model-a", chain);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exists, (std::vector<bool>{true, true, false, true, true}));
  EXPECT_EQ(r->prefix_hits, 2u);

  r = client->Lookup("model-a", {"c2", "c3"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exists, (std::vector<bool>{false, true}));
  EXPECT_EQ(r->prefix_hits, 0u);

  r = client->Lookup("model-a", {"c0", "c1", "c3", "c4"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->prefix_hits, 4u);

  // Another namespace sees none of them.
  r = client->Lookup("model-b", chain);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exists, std::vector<bool>(5, false));
  EXPECT_EQ(r->prefix_hits, 0u);

  // Filling the hole extends the prefix.
  ASSERT_TRUE(client->Put("model-a", "c2", *AsKvView(t), WithPreset("kivi4")).ok());
  r = client->Lookup("model-a", chain);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->prefix_hits, 5u);
}

TEST(StoreSemanticsTest, DeleteRemovesTheBlock) {
  GEARKV_START_SERVER(server, {"--memory_budget=64MiB"});
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  const Tensor t = Gaussian({1, 2, 64, 64}, DType::kFloat16, 4);
  ASSERT_TRUE(client->Put("ns", "gone", *AsKvView(t), WithPreset("gear4")).ok());
  ASSERT_TRUE(client->Put("ns", "kept", *AsKvView(t), WithPreset("gear4")).ok());
  auto deleted = client->Delete("ns", "gone");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
  EXPECT_EQ(client->Get("ns", "gone").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(Exists(*client, "ns", "gone"));
  EXPECT_TRUE(Exists(*client, "ns", "kept"));
  deleted = client->Delete("ns", "gone");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_FALSE(*deleted);
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->tiers.at(0).blocks, 1u);
}

TEST(StoreSemanticsTest, BlocksExpireAfterTheirTtl) {
  GEARKV_START_SERVER(server, {"--memory_budget=64MiB"});
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  const Tensor t = Gaussian({1, 2, 64, 64}, DType::kFloat16, 5);
  PutOptions ttl = WithPreset("none");
  ttl.ttl = absl::Seconds(1);
  const absl::Time put_at = absl::Now();
  ASSERT_TRUE(client->Put("ns", "short", *AsKvView(t), ttl).ok());
  ASSERT_TRUE(client->Put("ns", "forever", *AsKvView(t), WithPreset("none")).ok());
  if (absl::Now() - put_at < absl::Milliseconds(800)) {
    EXPECT_TRUE(client->Get("ns", "short").ok());
  }
  // Expiry has whole-second granularity on the wire: 1 s, checked after 2.5 s.
  absl::SleepFor(absl::Milliseconds(2500) - (absl::Now() - put_at));
  EXPECT_EQ(client->Get("ns", "short").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(Exists(*client, "ns", "short"));
  EXPECT_TRUE(client->Get("ns", "forever").ok());
}

TEST(StoreSemanticsTest, EvictsLeastRecentlyUsedAndNeverExceedsTheBudget) {
  // Blocks of 64 KiB (preset none stores them as sent, plus a small header); a budget of a
  // little over 3 of them.
  const TensorShape shape{1, 2, 128, 64};
  const uint64_t raw = shape.NumElements() * 2;
  const uint64_t budget = 3 * raw + raw / 2;
  GEARKV_START_SERVER(server, {absl::StrCat("--memory_budget=", budget)});
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  auto check_budget = [&] {
    auto stats = client->Stats();
    ASSERT_TRUE(stats.ok()) << stats.status();
    const auto& memory = stats->tiers.at(0);
    EXPECT_EQ(memory.capacity_bytes, budget);
    EXPECT_LE(memory.bytes, budget);
  };
  std::vector<Tensor> blocks;
  for (int i = 0; i < 5; ++i) blocks.push_back(Gaussian(shape, DType::kFloat16, 100 + i));
  auto put = [&](int i) {
    auto r = client->Put("ev", absl::StrCat("b", i), *AsKvView(blocks[i]), WithPreset("none"));
    ASSERT_TRUE(r.ok()) << r.status();
    check_budget();
  };
  put(0);
  put(1);
  put(2);
  // Touch b0: b1 becomes the least recently used.
  ASSERT_TRUE(client->Get("ev", "b0").ok());
  put(3);  // evicts b1
  EXPECT_FALSE(Exists(*client, "ev", "b1"));
  EXPECT_TRUE(Exists(*client, "ev", "b0"));
  EXPECT_TRUE(Exists(*client, "ev", "b2"));
  EXPECT_TRUE(Exists(*client, "ev", "b3"));
  put(4);  // evicts b2 (b0 was used after it)
  EXPECT_FALSE(Exists(*client, "ev", "b2"));
  EXPECT_TRUE(Exists(*client, "ev", "b0"));
  EXPECT_EQ(client->Get("ev", "b1").status().code(), absl::StatusCode::kNotFound);
  auto b0 = client->Get("ev", "b0", WithEncoding(GetEncoding::kRaw));
  ASSERT_TRUE(b0.ok()) << b0.status();
  EXPECT_TRUE(b0->tensor.data == blocks[0].data);
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GE(stats->tiers.at(0).evictions, 2u);

  // A block that cannot fit even in an empty store: RESOURCE_EXHAUSTED, nothing evicted.
  const Tensor huge = Gaussian({1, 2, 512, 64}, DType::kFloat16, 9);  // 256 KiB > budget
  auto r = client->Put("ev", "huge", *AsKvView(huge), WithPreset("none"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_TRUE(Exists(*client, "ev", "b0"));
  EXPECT_FALSE(Exists(*client, "ev", "huge"));
  check_budget();
}

}  // namespace
}  // namespace gearkv::e2e
