#include "gearkv/metrics/metrics.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics_scrape.h"

namespace gearkv::metrics {
namespace {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value;
};

// Parses the sample lines of a text exposition (label values here hold no ',' or '"').
std::vector<Sample> ParseExposition(const std::string& text) {
  std::vector<Sample> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line.front() == '#') continue;
    Sample s;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (brace != absl::string_view::npos && brace < space) {
      s.name = std::string(line.substr(0, brace));
      const size_t close = line.rfind('}');
      for (absl::string_view pair :
           absl::StrSplit(line.substr(brace + 1, close - brace - 1), ',', absl::SkipEmpty())) {
        const size_t eq = pair.find('=');
        s.labels[std::string(pair.substr(0, eq))] =
            std::string(pair.substr(eq + 2, pair.size() - eq - 3));
      }
    } else {
      s.name = std::string(line.substr(0, space));
    }
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &s.value)) << line;
    samples.push_back(std::move(s));
  }
  return samples;
}

// The value of the one sample with this name and exactly these labels; NaN when absent.
double Value(const std::vector<Sample>& samples, const std::string& name, const Labels& labels) {
  for (const Sample& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  ADD_FAILURE() << "no sample " << name << " with the given labels";
  return std::nan("");
}

int CountSeries(const std::vector<Sample>& samples, const std::string& name) {
  int n = 0;
  for (const Sample& s : samples) n += s.name == name;
  return n;
}

Labels Rpc(const std::string& method, const std::string& type) {
  return {{"grpc_service", "gearkv.v1.KVCache"}, {"grpc_method", method}, {"grpc_type", type}};
}

Labels With(Labels labels, const std::string& key, const std::string& value) {
  labels[key] = value;
  return labels;
}

TEST(MetricsTest, EveryBoundedChildStartsAtZero) {
  Metrics metrics(MetricsOptions{.version = "1.2.3"});
  const auto samples = ParseExposition(metrics.TextExposition());

  // 5 methods x 17 codes, all present at 0 before any call.
  EXPECT_EQ(CountSeries(samples, "grpc_server_handled_total"), 7 * 17);
  EXPECT_EQ(Value(samples, "grpc_server_handled_total",
                  With(Rpc("Get", "server_stream"), "grpc_code", "DataLoss")),
            0);
  EXPECT_EQ(Value(samples, "grpc_server_started_total", Rpc("Lookup", "unary")), 0);
  EXPECT_EQ(Value(samples, "grpc_server_handling_seconds_count", Rpc("Put", "client_stream")), 0);
  EXPECT_EQ(Value(samples, "gearkv_inflight_streams", {{"grpc_method", "Delete"}}), 0);
  for (const char* preset :
       {"none", "kivi4", "kivi2", "gear4", "gear2", "gearl4", "gearl2", "other"}) {
    EXPECT_EQ(Value(samples, "gearkv_put_raw_bytes_total", {{"preset", preset}}), 0) << preset;
    EXPECT_EQ(Value(samples, "gearkv_compression_ratio_count", {{"preset", preset}}), 0);
  }
  EXPECT_EQ(Value(samples, "gearkv_codec_seconds_count",
                  {{"backend", "cuda"}, {"operation", "decompress"}}),
            0);
  EXPECT_EQ(Value(samples, "gearkv_store_hits_total", {{"tier", "memory"}}), 0);
  EXPECT_EQ(Value(samples, "gearkv_store_evictions_total", {{"tier", "disk"}}), 0);
  EXPECT_EQ(Value(samples, "gearkv_build_info", {{"version", "1.2.3"}}), 1);
  EXPECT_EQ(Value(samples, "gearkv_received_wire_bytes_total", {}), 0);
  EXPECT_EQ(Value(samples, "gearkv_worker_pool_queue_depth", {}), 0);
}

TEST(MetricsTest, ProcessMetricsComeFromProc) {
  Metrics metrics;
  const auto samples = ParseExposition(metrics.TextExposition());
  EXPECT_GT(Value(samples, "process_resident_memory_bytes", {}), 1 << 20);
  EXPECT_GT(Value(samples, "process_virtual_memory_bytes", {}), 1 << 20);
  EXPECT_GE(Value(samples, "process_open_fds", {}), 3);
  EXPECT_GT(Value(samples, "process_max_fds", {}), 0);
  EXPECT_GE(Value(samples, "process_cpu_seconds_total", {}), 0);
  const double start = Value(samples, "process_start_time_seconds", {});
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 24 * 3600) << "this test process started within the last day";
}

TEST(MetricsTest, RpcCountsLatencyAndInflight) {
  Metrics metrics;
  metrics.RpcStarted(RpcMethod::kPut);
  metrics.RpcStarted(RpcMethod::kPut);
  metrics.RpcStarted(RpcMethod::kGet);
  auto samples = ParseExposition(metrics.TextExposition());
  EXPECT_EQ(Value(samples, "gearkv_inflight_streams", {{"grpc_method", "Put"}}), 2);
  EXPECT_EQ(Value(samples, "grpc_server_started_total", Rpc("Put", "client_stream")), 2);

  metrics.ObserveRpc(RpcMethod::kPut, absl::StatusCode::kOk, 0.0003);
  metrics.ObserveRpc(RpcMethod::kPut, absl::StatusCode::kResourceExhausted, 2.0);
  metrics.ObserveRpc(RpcMethod::kGet, absl::StatusCode::kNotFound, 0.00001);
  samples = ParseExposition(metrics.TextExposition());
  const Labels put = Rpc("Put", "client_stream");
  EXPECT_EQ(Value(samples, "gearkv_inflight_streams", {{"grpc_method", "Put"}}), 0);
  EXPECT_EQ(Value(samples, "grpc_server_handled_total", With(put, "grpc_code", "OK")), 1);
  EXPECT_EQ(
      Value(samples, "grpc_server_handled_total", With(put, "grpc_code", "ResourceExhausted")), 1);
  EXPECT_EQ(Value(samples, "grpc_server_handled_total",
                  With(Rpc("Get", "server_stream"), "grpc_code", "NotFound")),
            1);
  EXPECT_EQ(Value(samples, "grpc_server_handling_seconds_count", put), 2);
  EXPECT_DOUBLE_EQ(Value(samples, "grpc_server_handling_seconds_sum", put), 2.0003);
  EXPECT_EQ(Value(samples, "grpc_server_handling_seconds_bucket", With(put, "le", "0.00025")), 0);
  EXPECT_EQ(Value(samples, "grpc_server_handling_seconds_bucket", With(put, "le", "0.0005")), 1);
  EXPECT_EQ(Value(samples, "grpc_server_handling_seconds_bucket", With(put, "le", "2.5")), 2);
  EXPECT_EQ(Value(samples, "grpc_server_handling_seconds_bucket", With(put, "le", "+Inf")), 2);
  // The smallest bucket is 50 us, the largest finite one 10 s.
  EXPECT_EQ(Value(samples, "grpc_server_handling_seconds_bucket",
                  With(Rpc("Get", "server_stream"), "le", "5e-05")),
            1);
  EXPECT_EQ(CountSeries(samples, "grpc_server_handling_seconds_bucket"), 7 * 18);
}

TEST(MetricsTest, BatchBlocksAndPerKeyOutcomes) {
  Metrics metrics;
  metrics.ObserveBatch(RpcMethod::kGetMany, 32);
  metrics.ObserveBatch(RpcMethod::kGetMany, 3);
  metrics.ObserveBatch(RpcMethod::kPutMany, 1);
  metrics.ObserveBatch(RpcMethod::kGet, 5);  // not batched: ignored
  metrics.ObserveBatchKey(RpcMethod::kGetMany, absl::StatusCode::kOk);
  metrics.ObserveBatchKey(RpcMethod::kGetMany, absl::StatusCode::kOk);
  metrics.ObserveBatchKey(RpcMethod::kGetMany, absl::StatusCode::kNotFound);
  metrics.ObserveBatchKey(RpcMethod::kPutMany, absl::StatusCode::kDataLoss);
  const auto samples = ParseExposition(metrics.TextExposition());
  const Labels get_many = Rpc("GetMany", "server_stream");
  const Labels put_many = Rpc("PutMany", "client_stream");
  EXPECT_EQ(Value(samples, "gearkv_batch_blocks_count", get_many), 2);
  EXPECT_EQ(Value(samples, "gearkv_batch_blocks_sum", get_many), 35);
  EXPECT_EQ(Value(samples, "gearkv_batch_blocks_bucket", With(get_many, "le", "2")), 0);
  EXPECT_EQ(Value(samples, "gearkv_batch_blocks_bucket", With(get_many, "le", "4")), 1);
  EXPECT_EQ(Value(samples, "gearkv_batch_blocks_bucket", With(get_many, "le", "32")), 2);
  EXPECT_EQ(Value(samples, "gearkv_batch_blocks_count", put_many), 1);
  // Only the two batched methods have the batch series: 1 .. 4096 is 13 buckets, and +Inf.
  EXPECT_EQ(CountSeries(samples, "gearkv_batch_blocks_bucket"), 2 * 14);
  EXPECT_EQ(Value(samples, "gearkv_batch_keys_total", With(get_many, "grpc_code", "OK")), 2);
  EXPECT_EQ(Value(samples, "gearkv_batch_keys_total", With(get_many, "grpc_code", "NotFound")), 1);
  EXPECT_EQ(Value(samples, "gearkv_batch_keys_total", With(put_many, "grpc_code", "DataLoss")), 1);
  EXPECT_EQ(Value(samples, "gearkv_batch_keys_total", With(put_many, "grpc_code", "OK")), 0);
}

TEST(MetricsTest, BytesPresetsAndCodec) {
  Metrics metrics;
  metrics.ObserveReceived(4096, 4200);
  metrics.ObserveSent(4096, 1100);
  metrics.ObservePut("gear4", 4 << 20, 1 << 20, 0.02);
  metrics.ObservePut("gear4", 4 << 20, 1 << 20, std::nullopt);
  metrics.ObservePut("none", 2048, 2048, 0.0);
  metrics.ObservePut("my-custom-preset", 1000, 250, std::nullopt);
  metrics.ObserveCodec("cpu", CodecOp::kCompress, 0.004, 4 << 20);
  metrics.ObserveCodec("cpu", CodecOp::kDecompress, 0.001, 4 << 20);
  metrics.ObserveCodec("tpu", CodecOp::kCompress, 1, 1);  // unknown backend: ignored
  const auto samples = ParseExposition(metrics.TextExposition());

  EXPECT_EQ(Value(samples, "gearkv_received_raw_bytes_total", {}), 4096);
  EXPECT_EQ(Value(samples, "gearkv_received_wire_bytes_total", {}), 4200);
  EXPECT_EQ(Value(samples, "gearkv_sent_raw_bytes_total", {}), 4096);
  EXPECT_EQ(Value(samples, "gearkv_sent_wire_bytes_total", {}), 1100);

  EXPECT_EQ(Value(samples, "gearkv_put_raw_bytes_total", {{"preset", "gear4"}}), 8 << 20);
  EXPECT_EQ(Value(samples, "gearkv_put_stored_bytes_total", {{"preset", "gear4"}}), 2 << 20);
  EXPECT_EQ(Value(samples, "gearkv_compression_ratio_count", {{"preset", "gear4"}}), 2);
  EXPECT_EQ(Value(samples, "gearkv_compression_ratio_sum", {{"preset", "gear4"}}), 8);
  EXPECT_EQ(Value(samples, "gearkv_compression_ratio_bucket", {{"preset", "gear4"}, {"le", "3.5"}}),
            0);
  EXPECT_EQ(Value(samples, "gearkv_compression_ratio_bucket", {{"preset", "gear4"}, {"le", "4"}}),
            2);
  EXPECT_EQ(Value(samples, "gearkv_compression_relative_error_count", {{"preset", "gear4"}}), 1);
  EXPECT_EQ(Value(samples, "gearkv_compression_relative_error_bucket",
                  {{"preset", "gear4"}, {"le", "0.02"}}),
            1);
  EXPECT_EQ(Value(samples, "gearkv_compression_relative_error_bucket",
                  {{"preset", "none"}, {"le", "1e-06"}}),
            1);
  EXPECT_EQ(Value(samples, "gearkv_block_raw_size_bytes_bucket",
                  {{"preset", "gear4"}, {"le", "4194304"}}),
            2);
  EXPECT_EQ(Value(samples, "gearkv_block_raw_size_bytes_bucket",
                  {{"preset", "gear4"}, {"le", "1048576"}}),
            0);
  // `none` stores a block a little larger than the tensor: its ratio sits in (0.95, 1].
  EXPECT_EQ(Value(samples, "gearkv_compression_ratio_bucket", {{"preset", "none"}, {"le", "0.95"}}),
            0);
  EXPECT_EQ(Value(samples, "gearkv_compression_ratio_bucket", {{"preset", "none"}, {"le", "1"}}),
            1);
  EXPECT_EQ(Value(samples, "gearkv_block_raw_size_bytes_bucket",
                  {{"preset", "gear4"}, {"le", "2097152"}}),
            0);
  EXPECT_EQ(Value(samples, "gearkv_put_raw_bytes_total", {{"preset", "other"}}), 1000);
  EXPECT_EQ(CountSeries(samples, "gearkv_put_raw_bytes_total"), 8);  // no new preset label

  const Labels compress = {{"backend", "cpu"}, {"operation", "compress"}};
  EXPECT_EQ(Value(samples, "gearkv_codec_seconds_count", compress), 1);
  EXPECT_DOUBLE_EQ(Value(samples, "gearkv_codec_seconds_sum", compress), 0.004);
  EXPECT_EQ(Value(samples, "gearkv_codec_raw_bytes_total", compress), 4 << 20);
  EXPECT_EQ(CountSeries(samples, "gearkv_codec_raw_bytes_total"), 4);
}

TEST(MetricsTest, SizeBucketsSpan1KiBTo1GiB) {
  Metrics metrics;
  const auto samples = ParseExposition(metrics.TextExposition());
  EXPECT_EQ(
      Value(samples, "gearkv_block_raw_size_bytes_bucket", {{"preset", "none"}, {"le", "1024"}}),
      0);
  EXPECT_EQ(Value(samples, "gearkv_block_raw_size_bytes_bucket",
                  {{"preset", "none"}, {"le", "1073741824"}}),
            0);
}

TEST(MetricsTest, WorkerPoolGauges) {
  Metrics metrics;
  metrics.SetWorkerPoolSize(8, 64);
  metrics.SetWorkerPoolQueueDepth(5);
  const auto samples = ParseExposition(metrics.TextExposition());
  EXPECT_EQ(Value(samples, "gearkv_worker_pool_workers", {}), 8);
  EXPECT_EQ(Value(samples, "gearkv_worker_pool_queue_capacity", {}), 64);
  EXPECT_EQ(Value(samples, "gearkv_worker_pool_queue_depth", {}), 5);
}

TEST(MetricsTest, PoolRejectionsAreCountedForTheGivenPoolsOnly) {
  Metrics metrics(MetricsOptions{.pools = {"codec", "io"}});
  auto samples = ParseExposition(metrics.TextExposition());
  EXPECT_EQ(Value(samples, "gearkv_worker_pool_rejected_total", {{"pool", "codec"}}), 0);
  EXPECT_EQ(Value(samples, "gearkv_worker_pool_rejected_total", {{"pool", "io"}}), 0);

  metrics.ObservePoolRejected("codec");
  metrics.ObservePoolRejected("codec");
  metrics.ObservePoolRejected("io");
  metrics.ObservePoolRejected("gpu");  // not a pool of this server: ignored
  samples = ParseExposition(metrics.TextExposition());
  EXPECT_EQ(Value(samples, "gearkv_worker_pool_rejected_total", {{"pool", "codec"}}), 2);
  EXPECT_EQ(Value(samples, "gearkv_worker_pool_rejected_total", {{"pool", "io"}}), 1);
  EXPECT_EQ(CountSeries(samples, "gearkv_worker_pool_rejected_total"), 2);
}

TEST(MetricsTest, TierCountersFollowTheStoreTotals) {
  Metrics metrics;
  std::vector<TierSample> tiers = {
      {.tier = "memory",
       .blocks = 3,
       .bytes = 3000,
       .capacity_bytes = 10000,
       .hits = 5,
       .misses = 2,
       .evictions = 1,
       .expirations = 0},
      {.tier = "remote", .blocks = 1, .bytes = 10, .capacity_bytes = 100, .hits = 0, .misses = 2}};
  metrics.SetTierStatsSource([&tiers] { return tiers; });
  auto samples = ParseExposition(metrics.TextExposition());
  EXPECT_EQ(Value(samples, "gearkv_store_bytes", {{"tier", "memory"}}), 3000);
  EXPECT_EQ(Value(samples, "gearkv_store_capacity_bytes", {{"tier", "memory"}}), 10000);
  EXPECT_EQ(Value(samples, "gearkv_store_blocks", {{"tier", "memory"}}), 3);
  EXPECT_EQ(Value(samples, "gearkv_store_hits_total", {{"tier", "memory"}}), 5);
  EXPECT_EQ(Value(samples, "gearkv_store_misses_total", {{"tier", "memory"}}), 2);
  EXPECT_EQ(Value(samples, "gearkv_store_evictions_total", {{"tier", "memory"}}), 1);
  EXPECT_EQ(Value(samples, "gearkv_store_misses_total", {{"tier", "remote"}}), 2);  // new tier
  EXPECT_EQ(Value(samples, "gearkv_store_hits_total", {{"tier", "disk"}}), 0);  // created at start

  tiers[0].hits = 9;
  tiers[0].expirations = 4;
  tiers[0].bytes = 500;
  samples = ParseExposition(metrics.TextExposition());
  EXPECT_EQ(Value(samples, "gearkv_store_hits_total", {{"tier", "memory"}}), 9);
  EXPECT_EQ(Value(samples, "gearkv_store_expirations_total", {{"tier", "memory"}}), 4);
  EXPECT_EQ(Value(samples, "gearkv_store_bytes", {{"tier", "memory"}}), 500);
  samples = ParseExposition(metrics.TextExposition());  // no change: counters stay
  EXPECT_EQ(Value(samples, "gearkv_store_hits_total", {{"tier", "memory"}}), 9);

  tiers[0].hits = 2;  // the tier restarted: its new total is all increase, the counter never drops
  samples = ParseExposition(metrics.TextExposition());
  EXPECT_EQ(Value(samples, "gearkv_store_hits_total", {{"tier", "memory"}}), 11);
}

TEST(MetricsTest, SeriesCountDoesNotGrowWithTraffic) {
  Metrics metrics;
  const size_t before = ParseExposition(metrics.TextExposition()).size();
  for (int i = 0; i < 1000; ++i) {
    metrics.RpcStarted(static_cast<RpcMethod>(i % kNumRpcMethods));
    metrics.ObserveRpc(static_cast<RpcMethod>(i % kNumRpcMethods),
                       static_cast<absl::StatusCode>(i % 17), i * 1e-4);
    metrics.ObservePut(absl::StrCat("preset-", i), i, i / 2 + 1, i * 1e-5);
    metrics.ObserveCodec(i % 2 ? "cpu" : "cuda", CodecOp::kCompress, 1e-3, i);
  }
  EXPECT_EQ(ParseExposition(metrics.TextExposition()).size(), before);
}

TEST(MetricsTest, ConcurrentObservationsAreAllCounted) {
  Metrics metrics(MetricsOptions{.pools = {"codec"}});
  constexpr int kThreads = 8, kCalls = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics] {
      for (int i = 0; i < kCalls; ++i) {
        metrics.RpcStarted(RpcMethod::kGet);
        metrics.ObserveSent(10, 1);
        metrics.ObservePut("kivi2", 8, 1, 0.05);
        metrics.ObservePoolRejected("codec");
        metrics.ObserveRpc(RpcMethod::kGet, absl::StatusCode::kOk, 1e-3);
      }
    });
  }
  std::thread scraper([&metrics] {
    for (int i = 0; i < 20; ++i) metrics.TextExposition();
  });
  for (auto& t : threads) t.join();
  scraper.join();
  const auto samples = ParseExposition(metrics.TextExposition());
  EXPECT_EQ(Value(samples, "grpc_server_handled_total",
                  With(Rpc("Get", "server_stream"), "grpc_code", "OK")),
            kThreads * kCalls);
  EXPECT_EQ(Value(samples, "gearkv_sent_raw_bytes_total", {}), 10.0 * kThreads * kCalls);
  EXPECT_EQ(Value(samples, "gearkv_compression_ratio_count", {{"preset", "kivi2"}}),
            kThreads * kCalls);
  EXPECT_EQ(Value(samples, "gearkv_inflight_streams", {{"grpc_method", "Get"}}), 0);
  EXPECT_EQ(Value(samples, "gearkv_worker_pool_rejected_total", {{"pool", "codec"}}),
            kThreads * kCalls);
}

// Writes `text` to a file and runs `promtool check metrics` on it; returns promtool's output.
int RunPromtool(const std::string& text, std::string* output) {
  const std::string dir = testing::TempDir();
  const std::string in = absl::StrCat(dir, "/gearkv_metrics.prom");
  const std::string out = absl::StrCat(dir, "/gearkv_promtool.out");
  std::ofstream(in) << text;
  const int rc =
      std::system(absl::StrCat("promtool check metrics < ", in, " > ", out, " 2>&1").c_str());
  std::ifstream result(out);
  output->assign(std::istreambuf_iterator<char>(result), std::istreambuf_iterator<char>());
  return rc;
}

TEST(MetricsTest, ExpositionPassesPromtoolLint) {
  if (std::system("promtool --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  Metrics metrics(MetricsOptions{.version = "0.1.0", .pools = {"codec", "io"}});
  metrics.RpcStarted(RpcMethod::kPut);
  metrics.ObservePoolRejected("io");
  metrics.ObserveRpc(RpcMethod::kPut, absl::StatusCode::kOk, 0.01);
  metrics.ObservePut("gear2", 1 << 20, 1 << 17, 0.08);
  metrics.ObserveCodec("cpu", CodecOp::kCompress, 0.01, 1 << 20);
  metrics.SetTierStatsSource([] {
    return std::vector<TierSample>{
        {.tier = "memory", .blocks = 1, .bytes = 1 << 17, .capacity_bytes = 1 << 30, .hits = 1}};
  });
  std::string output;
  const int rc = RunPromtool(metrics.TextExposition(), &output);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_EQ(output, "") << "promtool reported lint problems";

  // The check is live: promtool flags a counter without the _total suffix.
  EXPECT_NE(
      RunPromtool("# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n", &output), 0);
}

TEST(MetricsTest, ExposerServesMetricsAndReportsATakenPort) {
  Metrics metrics(MetricsOptions{.version = "9.9.9"});
  metrics.SetTierStatsSource(
      [] { return std::vector<TierSample>{{.tier = "memory", .capacity_bytes = 4096}}; });
  ASSERT_TRUE(metrics.StartExposer("127.0.0.1:0").ok());
  const int port = metrics.exposer_port();
  ASSERT_GT(port, 0);
  EXPECT_EQ(metrics.StartExposer("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);

  const std::string response = testutil::ScrapeMetrics(port);
  EXPECT_THAT(response, testing::StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(response, testing::HasSubstr("gearkv_build_info{version=\"9.9.9\"} 1"));
  EXPECT_THAT(response, testing::HasSubstr("gearkv_store_capacity_bytes{tier=\"memory\"} 4096"));

  Metrics second;
  const absl::Status taken = second.StartExposer(absl::StrCat("127.0.0.1:", port));
  EXPECT_EQ(taken.code(), absl::StatusCode::kUnavailable) << taken;
  EXPECT_THAT(taken.message(), testing::HasSubstr(absl::StrCat("127.0.0.1:", port)));
}

}  // namespace
}  // namespace gearkv::metrics
