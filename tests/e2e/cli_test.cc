// The `gearkv` CLI against a real server: health exit codes, put/get of .npy and .safetensors
// files, lookup, delete, stats and a short bench.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "e2e_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace gearkv::e2e {
namespace {

#define EXPECT_CLI_OK(result) \
  EXPECT_EQ((result).exit_code, 0) << "stdout:\n" << (result).out << "\nstderr:\n" << (result).err

TEST(CliTest, HealthExitCodeFollowsServingState) {
  GEARKV_START_SERVER(server, {"--memory_budget=64MiB"});
  const std::string target = "--target=" + server->target();
  CliResult r = RunCli({"health", target});
  EXPECT_CLI_OK(r);
  EXPECT_EQ(r.out, "SERVING\n");
  // The target may also come from the environment-equivalent flag position after the command.
  r = RunCli({"health", "--deadline_seconds=5", target});
  EXPECT_CLI_OK(r);
  const std::string port_gone = server->target();
  ASSERT_TRUE(server->Stop().ok());
  r = RunCli({"health", "--target=" + port_gone, "--deadline_seconds=3"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "UNAVAILABLE")) << r.err;
}

TEST(CliTest, PutGetFilesLookupDeleteStats) {
  GEARKV_START_SERVER(server, {"--memory_budget=64MiB"});
  TempDir dir;
  const std::string target = "--target=" + server->target();
  const Tensor input = Gaussian({2, 2, 128, 64}, DType::kFloat16, TestSeed());
  const std::string npy = dir.path() + "/in.npy";
  ASSERT_TRUE(WriteTensorFile(npy, input).ok());
  // A 4-D [2, heads, tokens, head_dim] tensor (one layer) in safetensors, bf16, named "kv0".
  Tensor one_layer = Gaussian({1, 2, 128, 64}, DType::kBFloat16, TestSeed() + 1);
  one_layer.dims.erase(one_layer.dims.begin());
  const std::string st = dir.path() + "/in.safetensors";
  ASSERT_TRUE(WriteTensorFile(st, one_layer, "kv0").ok());

  CliResult r = RunCli({"put", npy, "-n", "cli", "-k", "a", "--preset", "none", target});
  EXPECT_CLI_OK(r);
  EXPECT_TRUE(absl::StrContains(r.out, "stored cli/a")) << r.out;
  r = RunCli({"put", npy, "-n", "cli", "-k", "p", "--preset", "kivi4", "--progress", target});
  EXPECT_CLI_OK(r);
  EXPECT_TRUE(absl::StrContains(r.err, "100%")) << "no progress display: " << r.err;
  r = RunCli({"put", st, "--tensor", "kv0", "-n", "cli", "-k", "b", "--preset", "gear4", "--rank",
              "2", "--measure_error", "--ttl_seconds", "600", target});
  EXPECT_CLI_OK(r);
  EXPECT_TRUE(absl::StrContains(r.out, "relative error")) << r.out;

  // none round trip through both encodings and both file formats is exact.
  for (std::string encoding : {"raw", "compressed"}) {
    for (std::string ext : {".npy", ".safetensors"}) {
      const std::string out = dir.path() + "/a-" + encoding + ext;
      r = RunCli({"get", "-n", "cli", "-k", "a", "-o", out, "--encoding", encoding, target});
      EXPECT_CLI_OK(r);
      auto back = ReadTensorFile(out);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(back->dims, input.dims);
      EXPECT_TRUE(back->data == input.data) << out;
    }
  }
  // bf16 into .npy is widened to fp32; --layers picks a range.
  const std::string b_npy = dir.path() + "/b.npy";
  r = RunCli({"get", "-n", "cli", "-k", "b", "-o", b_npy, target});
  EXPECT_CLI_OK(r);
  auto b = ReadTensorFile(b_npy);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->dtype, DType::kFloat32);
  EXPECT_EQ(b->dims, (std::vector<uint64_t>{1, 2, 2, 128, 64}));
  const std::string a_part = dir.path() + "/a-part.safetensors";
  r = RunCli({"get", "-n", "cli", "-k", "a", "-o", a_part, "--layers", "1:2", target});
  EXPECT_CLI_OK(r);
  auto part = ReadTensorFile(a_part);
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_TRUE(part->data == input.data.substr(input.data.size() / 2));

  r = RunCli({"lookup", "-n", "cli", "a", "b", "c", target});
  EXPECT_CLI_OK(r);
  EXPECT_EQ(r.out, "hit  a\nhit  b\nmiss c\nprefix_hits 2\n");
  ASSERT_EQ(RunCli({"delete", "-n", "cli", "-k", "p", target}).exit_code, 0);

  r = RunCli({"stats", "--json", target});
  EXPECT_CLI_OK(r);
  auto stats = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(stats.is_discarded()) << r.out;
  EXPECT_EQ(stats["tiers"][0]["tier"], "memory");
  EXPECT_EQ(stats["tiers"][0]["blocks"], 2);

  r = RunCli({"delete", "-n", "cli", "-k", "a", target});
  EXPECT_CLI_OK(r);
  r = RunCli({"get", "-n", "cli", "-k", "a", "-o", dir.path() + "/gone.npy", target});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "NOT_FOUND")) << r.err;

  // Usage and input errors.
  r = RunCli({"put", dir.path() + "/missing.npy", "-n", "cli", "-k", "x", target});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "NOT_FOUND")) << r.err;
  r = RunCli({"put", npy, "-n", "cli", "-k", "x", "--preset", "gear5", target});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "INVALID_ARGUMENT")) << r.err;
  r = RunCli({"frobnicate"});
  EXPECT_NE(r.exit_code, 0);
}

TEST(CliTest, BenchReportsThroughputAndLatency) {
  GEARKV_START_SERVER(server, {"--memory_budget=128MiB"});
  TempDir dir;
  const std::string json_out = dir.path() + "/bench.json";
  CliResult r = RunCli({"bench", "--target=" + server->target(), "--clients", "2", "--layers", "2",
                        "--kv_heads", "2", "--tokens", "128", "--head_dim", "64", "--preset",
                        "kivi4", "--duration_seconds", "1.5", "--json_out", json_out},
                       absl::Seconds(60));
  EXPECT_CLI_OK(r);
  EXPECT_TRUE(absl::StrContains(r.out, "p99 ms")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "[put]")) << "no progress lines: " << r.err;
  auto text = ReadFileBytes(json_out);
  ASSERT_TRUE(text.ok()) << text.status();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << *text;
  EXPECT_EQ(j["clients"], 2);
  EXPECT_EQ(j["preset"], "kivi4");
  for (const char* op : {"put", "get"}) {
    EXPECT_GT(j[op]["ops"].get<uint64_t>(), 0u) << op;
    EXPECT_EQ(j[op]["errors"].get<uint64_t>(), 0u) << op;
    EXPECT_GT(j[op]["raw_gb_per_s"].get<double>(), 0) << op;
    EXPECT_GE(j[op]["latency_ms"]["p99"].get<double>(), j[op]["latency_ms"]["p50"].get<double>());
  }
  EXPECT_LT(j["get"]["wire_gb_per_s"].get<double>(), j["get"]["raw_gb_per_s"].get<double>())
      << "compressed gets should move fewer bytes than raw";
  EXPECT_GT(j["ratio"].get<double>(), 2.0);
  EXPECT_EQ(j["get_into_buffer"], true) << "decompressed gets go into a reused buffer";
  EXPECT_TRUE(absl::StrContains(r.out, "into a reused buffer per client")) << r.out;

  // RAW gets also go into the buffer; --no_decompress gets stay Get (the block only).
  for (const auto& [flag, into] :
       {std::pair<std::string, bool>{"--get_encoding=raw", true}, {"--no_decompress", false}}) {
    r = RunCli({"bench",
                "--target=" + server->target(),
                "--layers",
                "2",
                "--kv_heads",
                "2",
                "--tokens",
                "128",
                "--head_dim",
                "64",
                "--preset",
                "kivi4",
                "--phases",
                "get",
                "--duration_seconds",
                "0.5",
                "-q",
                flag,
                "--json_out",
                json_out},
               absl::Seconds(60));
    EXPECT_CLI_OK(r);
    text = ReadFileBytes(json_out);
    ASSERT_TRUE(text.ok()) << text.status();
    j = nlohmann::json::parse(*text, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << *text;
    EXPECT_EQ(j["get_into_buffer"], into) << flag;
    EXPECT_GT(j["get"]["ops"].get<uint64_t>(), 0u) << flag;
    EXPECT_EQ(j["get"]["errors"].get<uint64_t>(), 0u) << flag;
  }
}

}  // namespace
}  // namespace gearkv::e2e
