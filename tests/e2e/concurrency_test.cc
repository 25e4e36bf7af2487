// Many clients at once against one real server: puts, gets and deletes mixed, with no error
// other than the NOT_FOUND a racing delete explains, and every answered block intact.
#include <atomic>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "e2e_util.h"
#include "gtest/gtest.h"

namespace gearkv::e2e {
namespace {

TEST(ConcurrencyTest, EightClientsMixPutGetDelete) {
  GEARKV_START_SERVER(server, {"--memory_budget=256MiB"});
  constexpr int kClients = 8;
  constexpr int kOpsPerClient = 120;
  const uint64_t seed = TestSeed();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  const TensorShape shape{2, 2, 64, 64};
  // Shared keys get the tensor of their index, so any successful Get is checkable.
  constexpr int kShared = 4;
  std::vector<Tensor> shared;
  for (int i = 0; i < kShared; ++i) shared.push_back(Gaussian(shape, DType::kFloat16, seed + i));
  absl::Mutex mu;
  std::vector<std::string> failures;
  std::atomic<int> ops{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      ClientOptions options;
      options.target = server->target();
      options.own_connection = true;
      auto client_or = Client::Create(options);
      if (!client_or.ok()) {
        absl::MutexLock lock(&mu);
        failures.push_back(client_or.status().ToString());
        return;
      }
      Client& client = **client_or;
      std::mt19937 rng(static_cast<uint32_t>(seed * 31 + c));
      const Tensor mine = Gaussian(shape, DType::kFloat16, seed + 1000 + c);
      const std::string my_key = absl::StrCat("own-", c);
      bool mine_stored = false;
      auto fail = [&](const std::string& what) {
        absl::MutexLock lock(&mu);
        failures.push_back(absl::StrCat("client ", c, ": ", what));
      };
      const std::string presets[] = {"none", "kivi4", "gear4"};
      for (int i = 0; i < kOpsPerClient; ++i) {
        const int action = static_cast<int>(rng() % 6);
        const int s = static_cast<int>(rng() % kShared);
        const std::string shared_key = absl::StrCat("shared-", s);
        absl::Status status;
        if (action == 0) {  // put own
          status = client.Put("conc", my_key, *AsKvView(mine), WithPreset(presets[i % 3])).status();
          mine_stored = status.ok();
        } else if (action == 1) {  // get own: exact for none, else must exist
          auto got = client.Get("conc", my_key, WithEncoding(GetEncoding::kRaw));
          if (mine_stored && !got.ok()) fail("own get: " + got.status().ToString());
          if (!mine_stored && got.status().code() != absl::StatusCode::kNotFound) {
            fail("own get after delete: " + got.status().ToString());
          }
        } else if (action == 2) {  // delete own
          auto d = client.Delete("conc", my_key);
          if (!d.ok())
            fail("own delete: " + d.status().ToString());
          else if (*d != mine_stored)
            fail("own delete answered the wrong existence");
          mine_stored = false;
        } else if (action == 3) {  // put shared (lossless: gets are exact)
          status =
              client.Put("conc", shared_key, *AsKvView(shared[s]), WithPreset("none")).status();
        } else if (action == 4) {  // get shared
          GetOptions get = WithEncoding(rng() % 2 ? GetEncoding::kRaw : GetEncoding::kCompressed);
          auto got = client.Get("conc", shared_key, get);
          if (got.ok()) {
            if (got->tensor.data != shared[s].data) fail("shared block corrupted");
          } else if (got.status().code() != absl::StatusCode::kNotFound) {
            fail("shared get: " + got.status().ToString());
          }
        } else {  // delete shared
          status = client.Delete("conc", shared_key).status();
        }
        if (!status.ok()) fail(status.ToString());
        ops.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ops.load(), kClients * kOpsPerClient);
  for (const std::string& f : failures) ADD_FAILURE() << f;
  // The server is still healthy and consistent.
  auto client = Connect(*server);
  ASSERT_NE(client, nullptr);
  auto health = client->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, HealthState::kServing);
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_LE(stats->tiers.at(0).bytes, stats->tiers.at(0).capacity_bytes);
  auto code = server->Stop();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << server->Output();
}

}  // namespace
}  // namespace gearkv::e2e
