// `gearkv bench`: load generation against a server (see bench_runner.h).
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "bench_runner.h"
#include "commands.h"
#include "gearkv/status_macros.h"
#include "gearkv/tensor_file.h"

namespace gearkv::cli {
namespace {

struct BenchFlags {
  int clients = 1;
  uint32_t layers = 32, kv_heads = 8, tokens = 256, head_dim = 128;
  std::string dtype = "float16";
  CodecRequest codec;
  double duration_seconds = 10;
  std::string get_encoding = "compressed";
  bool no_decompress = false;
  std::string phases = "put,get";
  int keys_per_client = 2;
  std::string ns = "gearkv-bench";
  uint64_t seed = 1;
  bool quiet = false;
  std::string json_out;
};

absl::Status RunBenchCommand(const GlobalFlags& global, const BenchFlags& flags) {
  BenchConfig config;
  config.client.target = global.target;
  config.client.default_deadline = absl::Seconds(global.deadline_seconds);
  config.client.max_attempts = global.attempts;
  config.client.auth_token = global.token;
  config.clients = flags.clients;
  config.shape = TensorShape{flags.layers, flags.kv_heads, flags.tokens, flags.head_dim};
  GEARKV_ASSIGN_OR_RETURN(config.dtype, ParseDType(flags.dtype));
  config.codec = flags.codec;
  config.duration = absl::Seconds(flags.duration_seconds);
  config.get_encoding = flags.get_encoding == "raw" ? GetEncoding::kRaw : GetEncoding::kCompressed;
  config.decompress = !flags.no_decompress;
  config.run_put = flags.phases.find("put") != std::string::npos;
  config.run_get = flags.phases.find("get") != std::string::npos;
  config.keys_per_client = flags.keys_per_client;
  config.ns = flags.ns;
  config.seed = flags.seed;
  if (!flags.quiet) {
    config.progress = [](const std::string& line) { std::cerr << line << "\n"; };
  }
  GEARKV_ASSIGN_OR_RETURN(BenchReport report, RunBench(config));
  std::cout << FormatBenchReport(report);
  if (!flags.json_out.empty()) {
    const std::string text = BenchReportToJson(report).dump(2) + "\n";
    GEARKV_RETURN_IF_ERROR(WriteFileBytesAtomically(flags.json_out, text));
    std::cerr << "wrote " << flags.json_out << "\n";
  }
  if (report.put.errors + report.get.errors > 0) {
    return absl::UnknownError(
        absl::StrCat(report.put.errors + report.get.errors, " calls failed during the run"));
  }
  return absl::OkStatus();
}

}  // namespace

void AddBenchCommand(CLI::App& app, const GlobalFlags& global, int* exit_code) {
  auto f = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "N concurrent clients put then get blocks; ops/s, GB/s raw and wire, p50/p99. Each client "
      "gets into its own buffer, allocated once and reused (Client::GetInto), except with "
      "--no_decompress");
  cmd->add_option("--clients,-c", f->clients, "concurrent clients (one connection each)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--layers", f->layers, "block layers")->capture_default_str();
  cmd->add_option("--kv_heads", f->kv_heads, "block KV heads")->capture_default_str();
  cmd->add_option("--tokens", f->tokens, "block tokens")->capture_default_str();
  cmd->add_option("--head_dim", f->head_dim, "block head_dim")->capture_default_str();
  cmd->add_option("--dtype", f->dtype, "float16, bfloat16, float32")->capture_default_str();
  AddCodecFlags(*cmd, f->codec);
  cmd->add_option("--duration_seconds,-d", f->duration_seconds, "length of each phase")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--get_encoding", f->get_encoding, "compressed or raw")
      ->check(CLI::IsMember({"raw", "compressed"}))
      ->capture_default_str();
  cmd->add_flag("--no_decompress", f->no_decompress,
                "compressed gets: skip client-side decompression (Client::Get, the block "
                "only)");
  cmd->add_option("--phases", f->phases, "put,get | put | get (get needs the warm-up puts)")
      ->capture_default_str();
  cmd->add_option("--keys_per_client", f->keys_per_client, "distinct keys each client cycles")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--namespace,-n", f->ns, "namespace of the bench keys")->capture_default_str();
  cmd->add_option("--data_seed", f->seed, "seed of the Gaussian block data")->capture_default_str();
  cmd->add_flag("--quiet,-q", f->quiet, "no progress lines");
  cmd->add_option("--json_out", f->json_out, "also write the results as JSON to this file");
  cmd->callback([&global, f, exit_code] {
    absl::Status s = RunBenchCommand(global, *f);
    *exit_code = s.ok() ? kExitOk : ReportError(s);
  });
}

}  // namespace gearkv::cli
