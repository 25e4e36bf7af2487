#include "gearkv/metrics/server_metrics.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gearkv::metrics {
namespace {

using testing::HasSubstr;

// The line of `name{labels}` in the exposition, e.g. Line(text, "x{a=\"b\"}") -> "x{a=\"b\"} 3".
std::string Line(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  return text.substr(at + 1, text.find('\n', at + 1) - at - 1);
}

TEST(ServerMetricsTest, RpcRecordsBecomeObservations) {
  Metrics metrics;
  ServerMetrics observer(&metrics);

  observer.OnRpcStarted("Put");
  server::RpcRecord put;
  put.method = "Put";
  put.code = absl::StatusCode::kOk;
  put.latency = absl::Milliseconds(20);
  put.bytes_in = 1 << 20;
  put.raw_bytes = 1 << 20;
  put.block_bytes = 1 << 18;
  put.preset = "gear4";
  put.relative_error = 0.03;
  observer.OnRpcDone(put);

  observer.OnRpcStarted("Get");
  server::RpcRecord get;
  get.method = "Get";
  get.latency = absl::Milliseconds(2);
  get.raw_bytes = 1 << 20;
  get.bytes_out = 1 << 18;  // COMPRESSED
  observer.OnRpcDone(get);

  observer.OnRpcStarted("Health");  // not a KVCache method: ignored
  server::RpcRecord unknown;
  unknown.method = "Health";
  observer.OnRpcDone(unknown);

  server::CodecRecord codec;
  codec.op = server::CodecOp::kDecompress;
  codec.backend = Backend::kCpu;
  codec.duration = absl::Milliseconds(1);
  codec.raw_bytes = 1 << 20;
  observer.OnCodecDone(codec);

  const std::string text = metrics.TextExposition();
  EXPECT_EQ(Line(text,
                 "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Put\",grpc_service="
                 "\"gearkv.v1.KVCache\",grpc_type=\"client_stream\"}"),
            "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Put\",grpc_service="
            "\"gearkv.v1.KVCache\",grpc_type=\"client_stream\"} 1");
  EXPECT_THAT(text, HasSubstr("\ngearkv_inflight_streams{grpc_method=\"Put\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\ngearkv_received_raw_bytes_total 1048576\n"));
  EXPECT_THAT(text, HasSubstr("\ngearkv_sent_raw_bytes_total 1048576\n"));
  EXPECT_THAT(text, HasSubstr("\ngearkv_sent_wire_bytes_total 262144\n"));
  EXPECT_THAT(text, HasSubstr("\ngearkv_put_stored_bytes_total{preset=\"gear4\"} 262144\n"));
  EXPECT_THAT(text, HasSubstr("\ngearkv_compression_ratio_sum{preset=\"gear4\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("\ngearkv_compression_relative_error_count{preset=\"gear4\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("\ngearkv_codec_raw_bytes_total{backend=\"cpu\",operation=\"decompress\"} "
                        "1048576\n"));
}

TEST(ServerMetricsTest, FailedPutCountsBytesReceivedButNoBlock) {
  Metrics metrics;
  ServerMetrics observer(&metrics);
  observer.OnRpcStarted("Put");
  server::RpcRecord put;
  put.method = "Put";
  put.code = absl::StatusCode::kInvalidArgument;
  put.bytes_in = 100;
  put.preset = "gear4";
  observer.OnRpcDone(put);
  const std::string text = metrics.TextExposition();
  EXPECT_THAT(text, HasSubstr("\ngearkv_received_wire_bytes_total 100\n"));
  EXPECT_THAT(text, HasSubstr("\ngearkv_compression_ratio_count{preset=\"gear4\"} 0\n"));
}

TEST(ServerMetricsTest, ScrapesReadTheRunningServersStore) {
  server::ServerConfig config;
  config.listen_address = "127.0.0.1:0";
  config.memory_budget_bytes = 3 << 20;
  config.metrics_port = 0;
  config.worker_threads = 3;
  config.worker_queue_depth = 17;
  config.backend = Backend::kCpu;
  absl::StatusOr<std::unique_ptr<server::Server>> server = server::Server::Start(config);
  ASSERT_TRUE(server.ok()) << server.status();

  Metrics metrics;
  ExportServerState(metrics, **server, config);
  const std::string text = metrics.TextExposition();
  EXPECT_THAT(text, HasSubstr("\ngearkv_store_capacity_bytes{tier=\"memory\"} 3145728\n"));
  EXPECT_THAT(text, HasSubstr("\ngearkv_store_blocks{tier=\"memory\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\ngearkv_worker_pool_workers 3\n"));
  EXPECT_THAT(text, HasSubstr("\ngearkv_worker_pool_queue_capacity 17\n"));
  EXPECT_THAT(text, HasSubstr("\ngearkv_worker_pool_queue_depth 0\n"));

  metrics.ClearScrapeSources();
  (*server)->Drain(absl::ZeroDuration());
}

TEST(ServerMetricsTest, BindAddressFollowsTheGrpcHost) {
  EXPECT_EQ(MetricsBindAddress("127.0.0.1:50051", 9464), "127.0.0.1:9464");
  EXPECT_EQ(MetricsBindAddress("localhost:50051", 9464), "127.0.0.1:9464");
  EXPECT_EQ(MetricsBindAddress("[::1]:50051", 9464), "127.0.0.1:9464");
  EXPECT_EQ(MetricsBindAddress("0.0.0.0:50051", 9464), "0.0.0.0:9464");
  EXPECT_EQ(MetricsBindAddress("10.1.2.3:50051", 1), "0.0.0.0:1");
}

}  // namespace
}  // namespace gearkv::metrics
