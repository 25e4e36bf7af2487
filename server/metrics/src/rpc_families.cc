// The RPC and data-path byte families, and the method names they are labelled with.
#include <string>
#include <string_view>

#include "families.h"
#include "gearkv/v1/kv_cache.grpc.pb.h"

namespace gearkv::metrics {
namespace {

constexpr std::array<std::string_view, kNumRpcMethods> kMethodNames = {
    "Put", "Get", "Lookup", "Delete", "Stats", "GetMany", "PutMany"};
// grpc_type as go-grpc-prometheus and the dashboards built on it spell it.
constexpr std::array<std::string_view, kNumRpcMethods> kMethodTypes = {
    "client_stream", "server_stream", "unary", "unary", "unary", "server_stream", "client_stream"};
// grpc_code values: the Go spelling of the canonical codes (what dashboards match on), indexed
// by the numeric code.
constexpr std::array<std::string_view, internal::kNumStatusCodes> kCodeNames = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};

std::string Str(std::string_view s) { return std::string(s); }

}  // namespace

std::optional<RpcMethod> RpcMethodFromName(std::string_view name) {
  for (int i = 0; i < kNumRpcMethods; ++i) {
    if (kMethodNames[i] == name) return static_cast<RpcMethod>(i);
  }
  return std::nullopt;
}

std::string_view RpcMethodName(RpcMethod method) { return kMethodNames[static_cast<int>(method)]; }

namespace internal {

Histogram::BucketBoundaries LatencyBuckets() {
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
          50e-3, 100e-3, 250e-3, 500e-3, 1.0,  2.5,    5.0,  10.0};
}

// 1 .. LIMIT_MAX_BATCH_KEYS (4096) in powers of two.
Histogram::BucketBoundaries BatchBuckets() {
  Histogram::BucketBoundaries buckets;
  for (double b = 1; b <= v1::LIMIT_MAX_BATCH_KEYS; b *= 2) buckets.push_back(b);
  return buckets;
}

// The go-grpc-prometheus names, labelled grpc_service / grpc_method / grpc_type (/ grpc_code).
RpcChildren BuildRpcFamilies(Registry& registry) {
  auto& started =
      CounterFamily(registry, "grpc_server_started_total", "RPCs started on the server.");
  auto& handled = CounterFamily(registry, "grpc_server_handled_total",
                                "RPCs completed on the server, regardless of success or failure.");
  auto& handling_seconds =
      HistogramFamily(registry, "grpc_server_handling_seconds",
                      "Time from the arrival of an RPC to its final status, in seconds.");
  auto& inflight = GaugeFamily(registry, "gearkv_inflight_streams",
                               "RPCs (streams) started and not yet finished.");
  auto& batch_blocks = HistogramFamily(
      registry, "gearkv_batch_blocks",
      "Blocks per batched call (GetMany: keys asked; PutMany: blocks sent), observed when the "
      "call finishes.");
  auto& batch_keys = CounterFamily(
      registry, "gearkv_batch_keys_total",
      "Blocks of batched calls answered with their own status (GetMany keys, PutMany blocks), "
      "by that status; the call's own status is in grpc_server_handled_total.");
  RpcChildren children;
  for (int m = 0; m < kNumRpcMethods; ++m) {
    const prometheus::Labels labels = {{"grpc_service", v1::KVCache::service_full_name()},
                                       {"grpc_method", Str(kMethodNames[m])},
                                       {"grpc_type", Str(kMethodTypes[m])}};
    children.started[m] = &started.Add(labels);
    children.handling_seconds[m] = &handling_seconds.Add(labels, LatencyBuckets());
    children.inflight[m] = &inflight.Add({{"grpc_method", Str(kMethodNames[m])}});
    const bool batched = IsBatched(static_cast<RpcMethod>(m));
    if (batched) children.batch_blocks[m] = &batch_blocks.Add(labels, BatchBuckets());
    for (int c = 0; c < kNumStatusCodes; ++c) {
      prometheus::Labels with_code = labels;
      with_code["grpc_code"] = Str(kCodeNames[c]);
      children.handled[m][c] = &handled.Add(with_code);
      if (batched) children.batch_keys[m][c] = &batch_keys.Add(with_code);
    }
  }
  return children;
}

ByteChildren BuildByteFamilies(Registry& registry) {
  auto total = [&](const char* name, const char* help) {
    return &CounterFamily(registry, name, help).Add({});
  };
  return {total("gearkv_received_raw_bytes_total",
                "Tensor bytes received in Put calls (raw representation)."),
          total("gearkv_received_wire_bytes_total",
                "Payload bytes received (Put chunk data as sent: equal to raw)."),
          total("gearkv_sent_raw_bytes_total",
                "Tensor bytes delivered by Get calls, counted as raw (uncompressed)."),
          total("gearkv_sent_wire_bytes_total",
                "Payload bytes sent (block bytes for COMPRESSED gets, tensor bytes for RAW).")};
}

}  // namespace internal
}  // namespace gearkv::metrics
