// Layouts through a real gearkv-server: a block put from KV_2LTD memory and got (Get and GetInto,
// RAW and COMPRESSED, whole or a layer range) in every layout equals the canonical path's result
// rearranged; `none` comes back exactly as put; the CLI's --layout flags.
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "e2e_util.h"
#include "gtest/gtest.h"

namespace gearkv::e2e {
namespace {

constexpr Layout kLayouts[] = {Layout::kCanonical, Layout::kKv2LTD, Layout::kPageFirst};

// `bytes` (a tensor of `shape`, elements of `esize` bytes) from canonical order into `layout`,
// from the layouts' definitions (gearkv/layout.h).
std::string ToLayout(const TensorShape& s, size_t esize, const std::string& bytes, Layout layout) {
  std::string out(bytes.size(), '\0');
  const uint64_t L = s.layers, H = s.kv_heads, T = s.tokens, D = s.head_dim;
  for (uint64_t l = 0; l < L; ++l) {
    for (uint64_t k = 0; k < 2; ++k) {
      for (uint64_t h = 0; h < H; ++h) {
        for (uint64_t t = 0; t < T; ++t) {
          const uint64_t from = (((l * 2 + k) * H + h) * T + t) * D;
          const uint64_t to = layout == Layout::kKv2LTD      ? (((k * L + l) * T + t) * H + h) * D
                              : layout == Layout::kPageFirst ? (((k * T + t) * L + l) * H + h) * D
                                                             : from;
          std::memcpy(out.data() + to * esize, bytes.data() + from * esize, D * esize);
        }
      }
    }
  }
  return out;
}

TEST(LayoutTest, APutFromKv2LtdIsGotInEveryLayoutLikeTheCanonicalPath) {
  auto server = ServerProcess::Start({"--memory_budget=256MiB"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = Connect(**server);
  ASSERT_NE(client, nullptr);
  const TensorShape shape{3, 4, 96, 64};
  const Tensor input = Gaussian(shape, DType::kFloat16, TestSeed() + 14);
  const std::string kv = ToLayout(shape, 2, input.data, Layout::kKv2LTD);
  for (const char* preset : {"none", "gear4"}) {
    SCOPED_TRACE(preset);
    ASSERT_TRUE(client->Put("layouts", "c", *AsKvView(input), WithPreset(preset)).ok());
    auto put = client->Put("layouts", "k", {shape, DType::kFloat16, kv.data(), Layout::kKv2LTD},
                           WithPreset(preset));
    ASSERT_TRUE(put.ok()) << put.status();
    for (GetEncoding encoding : {GetEncoding::kRaw, GetEncoding::kCompressed}) {
      for (auto layers : {std::optional<std::pair<uint32_t, uint32_t>>(),
                          std::optional<std::pair<uint32_t, uint32_t>>({1u, 3u})}) {
        GetOptions options;
        options.encoding = encoding;
        options.layers = layers;
        auto canonical = client->Get("layouts", "c", options);
        ASSERT_TRUE(canonical.ok()) << canonical.status();
        if (std::string(preset) == "none" && !layers) {
          EXPECT_TRUE(canonical->tensor.data == input.data);
        }
        for (Layout layout : kLayouts) {
          SCOPED_TRACE(std::string(LayoutName(layout)) +
                       (encoding == GetEncoding::kRaw ? " raw" : " compressed") +
                       (layers ? " layers 1:3" : ""));
          const std::string expected =
              ToLayout(canonical->shape, 2, canonical->tensor.data, layout);
          options.layout = layout;
          auto got = client->Get("layouts", "k", options);
          ASSERT_TRUE(got.ok()) << got.status();
          EXPECT_EQ(got->layout, layout);
          EXPECT_EQ(got->shape, canonical->shape);
          EXPECT_TRUE(got->tensor.data == expected);

          std::string memory(expected.size(), '\xab');
          GetOptions into = options;
          into.layout = Layout::kCanonical;  // GetInto takes out.layout
          auto written = client->GetInto(
              "layouts", "k", {got->shape, DType::kFloat16, memory.data(), layout}, into);
          ASSERT_TRUE(written.ok()) << written.status();
          EXPECT_EQ(written->layout, layout);
          EXPECT_TRUE(memory == expected);
        }
      }
    }
  }
}

// `gearkv put --layout` reads a file in that layout (its dims follow it), `get --layout` writes
// one: a `none` block put from a KV_2LTD file comes back as a page_first file of the same tensor.
TEST(LayoutTest, CliLayoutFlags) {
  GEARKV_START_SERVER(server, {"--memory_budget=64MiB"});
  TempDir dir;
  const std::string target = "--target=" + server->target();
  const TensorShape shape{3, 2, 16, 8};
  const Tensor input = Gaussian(shape, DType::kFloat16, TestSeed() + 15);
  Tensor kv = input;
  kv.dims = {2, shape.layers, shape.tokens, shape.kv_heads, shape.head_dim};
  kv.data = ToLayout(shape, 2, input.data, Layout::kKv2LTD);
  const std::string kv_npy = dir.path() + "/kv.npy";
  ASSERT_TRUE(WriteTensorFile(kv_npy, kv).ok());
  CliResult r = RunCli(
      {"put", kv_npy, "-n", "cli", "-k", "kv", "--preset", "none", "--layout", "kv_2ltd", target});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The same file read as canonical has the wrong dims.
  r = RunCli({"put", kv_npy, "-n", "cli", "-k", "x", "--preset", "none", target});
  EXPECT_NE(r.exit_code, 0) << r.out;
  for (std::string encoding : {"raw", "compressed"}) {
    const std::string out = dir.path() + "/page-" + encoding + ".npy";
    r = RunCli({"get", "-n", "cli", "-k", "kv", "-o", out, "--encoding", encoding, "--layout",
                "page_first", target});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    auto back = ReadTensorFile(out);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->dims, (std::vector<uint64_t>{2, shape.tokens, shape.layers, shape.kv_heads,
                                                 shape.head_dim}));
    EXPECT_TRUE(back->data == ToLayout(shape, 2, input.data, Layout::kPageFirst)) << encoding;
  }
  r = RunCli({"get", "-n", "cli", "-k", "kv", "-o", dir.path() + "/c.npy", target});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto canonical = ReadTensorFile(dir.path() + "/c.npy");
  ASSERT_TRUE(canonical.ok()) << canonical.status();
  EXPECT_EQ(canonical->dims, input.dims);
  EXPECT_TRUE(canonical->data == input.data);
  r = RunCli(
      {"get", "-n", "cli", "-k", "kv", "-o", dir.path() + "/d.npy", "--layout", "nhd", target});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown layout"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace gearkv::e2e
