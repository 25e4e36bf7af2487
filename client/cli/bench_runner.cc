#include "bench_runner.h"

#include <unistd.h>

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"
#include "random_tensor.h"

namespace gearkv::cli {
namespace {

enum class Op { kPut, kGet };

struct Phase {
  const BenchConfig& config;
  std::vector<std::unique_ptr<Client>>& clients;
  const std::vector<std::vector<std::string>>& keys;
  const TensorView& tensor;
};

// Runs `op` from every client until `duration` has passed.
OpReport RunPhase(const Phase& phase, Op op) {
  const BenchConfig& config = phase.config;
  PutOptions put;
  put.codec = config.codec;
  GetOptions get;
  get.encoding = config.get_encoding;
  get.decompress = config.decompress;
  // Gets that produce the tensor write it into the client's own buffer, allocated (and its
  // pages touched) once before the phase, as an engine's KV cache is: GetInto.
  std::vector<Tensor> buffers;
  std::vector<MutableTensorView> outs;
  if (op == Op::kGet && GetsIntoBuffer(config)) {
    for (size_t c = 0; c < phase.clients.size(); ++c) {
      buffers.push_back(MakeKvTensor(phase.tensor.shape, phase.tensor.dtype));
      outs.push_back({phase.tensor.shape, phase.tensor.dtype, buffers.back().data.data()});
    }
  }
  TimedLoad load;
  load.name = op == Op::kPut ? "put" : "get";
  load.clients = static_cast<int>(phase.clients.size());
  load.duration = config.duration;
  load.raw_bytes_per_op = phase.tensor.SizeBytes();
  load.progress = config.progress;
  load.progress_interval = config.progress_interval;
  return RunTimedLoad(load, [&](int c, uint64_t i) {
    Client& client = *phase.clients[c];
    const std::string& key = phase.keys[c][i % phase.keys[c].size()];
    OpOutcome outcome;
    if (op == Op::kPut) {
      auto r = client.Put(config.ns, key, phase.tensor, put);
      outcome.status = r.status();
      if (r.ok()) outcome.wire_bytes = r->wire_bytes;
    } else {
      auto r = outs.empty() ? client.Get(config.ns, key, get)
                            : client.GetInto(config.ns, key, outs[c], get);
      outcome.status = r.status();
      if (r.ok()) outcome.wire_bytes = r->wire_bytes;
    }
    return outcome;
  });
}

// Memory-tier (first tier) bytes and blocks.
std::pair<uint64_t, uint64_t> FirstTier(Client& client) {
  auto stats = client.Stats();
  if (!stats.ok() || stats->tiers.empty()) return {0, 0};
  return {stats->tiers[0].bytes, stats->tiers[0].blocks};
}

}  // namespace

bool GetsIntoBuffer(const BenchConfig& config) {
  return config.get_encoding == GetEncoding::kRaw || config.decompress;
}

absl::StatusOr<BenchReport> RunBench(const BenchConfig& config) {
  if (config.clients < 1 || config.keys_per_client < 1) {
    return absl::InvalidArgumentError("bench: clients and keys_per_client must be >= 1");
  }
  GEARKV_RETURN_IF_ERROR(ValidateShape(config.shape));
  if (config.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("bench: duration must be positive");
  }
  BenchReport report;
  report.config = config;
  const Tensor data = GaussianKvTensor(config.shape, config.dtype, config.seed);
  GEARKV_ASSIGN_OR_RETURN(const TensorView view, AsKvView(data));
  report.block_raw_bytes = view.SizeBytes();

  ClientOptions options = config.client;
  options.own_connection = true;
  options.retry_resource_exhausted = true;  // a saturated worker pool is back-pressure here
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::vector<std::string>> keys(config.clients);
  const std::string run = absl::StrCat(::getpid(), "-", absl::ToUnixMicros(absl::Now()));
  for (int c = 0; c < config.clients; ++c) {
    GEARKV_ASSIGN_OR_RETURN(clients.emplace_back(), Client::Create(options));
    for (int k = 0; k < config.keys_per_client; ++k) {
      keys[c].push_back(absl::StrCat("bench-", run, "-", c, "-", k));
    }
  }
  GEARKV_RETURN_IF_ERROR(clients[0]->Stats().status());  // is the server there?
  const auto [bytes_before, blocks_before] = FirstTier(*clients[0]);

  // Warm-up (not measured): every client stores each of its keys once, so that connections are
  // up and the get phase finds every key.
  std::vector<absl::Status> warm(config.clients);
  std::vector<PutResult> first(config.clients);
  {
    std::vector<std::thread> threads;
    for (int c = 0; c < config.clients; ++c) {
      threads.emplace_back([&, c] {
        PutOptions put;
        put.codec = config.codec;
        for (const std::string& key : keys[c]) {
          auto r = clients[c]->Put(config.ns, key, view, put);
          if (!r.ok()) {
            warm[c] = r.status();
            return;
          }
          first[c] = *r;
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  for (const absl::Status& s : warm) {
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("bench warm-up put failed: ", s.message()));
    }
  }
  report.preset = first[0].preset;
  report.backend = first[0].backend;
  report.block_stored_bytes = first[0].cost.stored_bytes;
  report.ratio = first[0].cost.ratio;
  const auto [bytes_after, blocks_after] = FirstTier(*clients[0]);
  if (blocks_after > blocks_before && bytes_after > bytes_before) {
    report.server_bytes_per_block =
        static_cast<double>(bytes_after - bytes_before) / (blocks_after - blocks_before);
    report.tokens_per_gib = config.shape.tokens / report.server_bytes_per_block * (1 << 30);
  }

  const Phase phase{config, clients, keys, view};
  if (config.run_put) report.put = RunPhase(phase, Op::kPut);
  if (config.run_get) report.get = RunPhase(phase, Op::kGet);
  if (config.cleanup) {
    for (int c = 0; c < config.clients; ++c) {
      for (const std::string& key : keys[c]) clients[c]->Delete(config.ns, key).IgnoreError();
    }
  }
  return report;
}

namespace {

nlohmann::json OpToJson(const OpReport& op) {
  return {{"ops", op.ops},
          {"errors", op.errors},
          {"first_error", op.first_error},
          {"seconds", op.seconds},
          {"ops_per_s", op.OpsPerSecond()},
          {"raw_gb_per_s", op.RawGBps()},
          {"wire_gb_per_s", op.WireGBps()},
          {"latency_ms",
           {{"mean", op.latency.mean_ms},
            {"p50", op.latency.p50_ms},
            {"p99", op.latency.p99_ms},
            {"max", op.latency.max_ms}}}};
}

}  // namespace

nlohmann::json BenchReportToJson(const BenchReport& r) {
  const BenchConfig& c = r.config;
  nlohmann::json j = {
      {"target", c.client.target},
      {"clients", c.clients},
      {"shape",
       {{"layers", c.shape.layers},
        {"kv_heads", c.shape.kv_heads},
        {"tokens", c.shape.tokens},
        {"head_dim", c.shape.head_dim}}},
      {"dtype", std::string(DTypeName(c.dtype))},
      {"preset_requested", c.codec.preset},
      {"preset", r.preset},
      {"backend", r.backend},
      {"get_encoding", c.get_encoding == GetEncoding::kRaw ? "raw" : "compressed"},
      {"client_decompress", c.decompress},
      {"get_into_buffer", GetsIntoBuffer(c)},
      {"duration_s", absl::ToDoubleSeconds(c.duration)},
      {"keys_per_client", c.keys_per_client},
      {"block_raw_bytes", r.block_raw_bytes},
      {"block_stored_bytes", r.block_stored_bytes},
      {"ratio", r.ratio},
      {"server_bytes_per_block", r.server_bytes_per_block},
      {"tokens_per_gib", r.tokens_per_gib},
  };
  if (c.run_put) j["put"] = OpToJson(r.put);
  if (c.run_get) j["get"] = OpToJson(r.get);
  return j;
}

std::string FormatBenchReport(const BenchReport& r) {
  const BenchConfig& c = r.config;
  std::string out = absl::StrFormat(
      "gearkv bench: %d client(s), block %s %s (%.2f MiB raw), preset %s -> %.2f MiB stored "
      "(ratio %.2fx), backend %s, get %s%s\n",
      c.clients, ToAbsl(DTypeName(c.dtype)), ToAbsl(c.shape.DebugString()),
      r.block_raw_bytes / 1048576.0, r.preset.empty() ? "(custom)" : r.preset,
      r.block_stored_bytes / 1048576.0, r.ratio, r.backend,
      c.get_encoding == GetEncoding::kRaw ? "raw" : "compressed",
      !GetsIntoBuffer(c) ? " (not decompressed)" : " into a reused buffer per client");
  if (r.tokens_per_gib > 0) {
    out += absl::StrFormat("server memory per block %.2f MiB -> %.0f tokens per GiB\n",
                           r.server_bytes_per_block / 1048576.0, r.tokens_per_gib);
  }
  out += absl::StrFormat("%-4s %8s %10s %12s %13s %10s %10s %10s %7s\n", "op", "ops", "ops/s",
                         "GB/s raw", "GB/s wire", "p50 ms", "p99 ms", "max ms", "errors");
  auto row = [&](const char* name, const OpReport& op) {
    out += absl::StrFormat("%-4s %8d %10.1f %12.3f %13.3f %10.2f %10.2f %10.2f %7d\n", name, op.ops,
                           op.OpsPerSecond(), op.RawGBps(), op.WireGBps(), op.latency.p50_ms,
                           op.latency.p99_ms, op.latency.max_ms, op.errors);
    if (!op.first_error.empty()) out += absl::StrCat("     first error: ", op.first_error, "\n");
  };
  if (c.run_put) row("put", r.put);
  if (c.run_get) row("get", r.get);
  return out;
}

}  // namespace gearkv::cli
