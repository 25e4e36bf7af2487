#include "gearkv/server/config_flags.h"

#include <cctype>
#include <cstdlib>
#include <limits>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"

namespace gearkv::server {

bool AbslParseFlag(absl::string_view text, ByteSize* size, std::string* error) {
  absl::StatusOr<uint64_t> bytes = ParseByteSize(text);
  if (!bytes.ok()) {
    *error = std::string(bytes.status().message());
    return false;
  }
  size->bytes = *bytes;
  return true;
}

std::string AbslUnparseFlag(ByteSize size) {
  constexpr const char* kUnits[] = {"", "KiB", "MiB", "GiB", "TiB"};
  uint64_t value = size.bytes;
  int unit = 0;
  while (unit < 4 && value != 0 && value % 1024 == 0) {
    value /= 1024;
    ++unit;
  }
  return absl::StrCat(value, kUnits[unit]);
}

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text) {
  const absl::string_view input = absl::StripAsciiWhitespace(text);
  size_t digits = 0;
  while (digits < input.size() && absl::ascii_isdigit(static_cast<unsigned char>(input[digits]))) {
    ++digits;
  }
  uint64_t number = 0;
  if (digits == 0 || !absl::SimpleAtoi(input.substr(0, digits), &number)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a byte size (e.g. 4GiB, 512MiB, 1000000)"));
  }
  const std::string suffix = absl::AsciiStrToLower(input.substr(digits));
  uint64_t multiplier = 0;
  if (suffix.empty() || suffix == "b") {
    multiplier = 1;
  } else if (suffix == "k" || suffix == "kib") {
    multiplier = uint64_t{1} << 10;
  } else if (suffix == "m" || suffix == "mib") {
    multiplier = uint64_t{1} << 20;
  } else if (suffix == "g" || suffix == "gib") {
    multiplier = uint64_t{1} << 30;
  } else if (suffix == "t" || suffix == "tib") {
    multiplier = uint64_t{1} << 40;
  } else if (suffix == "kb") {
    multiplier = 1000;
  } else if (suffix == "mb") {
    multiplier = 1000 * 1000;
  } else if (suffix == "gb") {
    multiplier = 1000 * 1000 * 1000;
  } else if (suffix == "tb") {
    multiplier = uint64_t{1000} * 1000 * 1000 * 1000;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': unknown size unit '", input.substr(digits),
                     "' (B, K/KiB, M/MiB, G/GiB, T/TiB, KB, MB, GB, TB)"));
  }
  if (number > std::numeric_limits<uint64_t>::max() / multiplier) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' overflows 64 bits"));
  }
  return number * multiplier;
}

}  // namespace gearkv::server

// Defaults come from ServerConfig, so the struct stays the one place they are written.
namespace {
const gearkv::server::ServerConfig kDefaults;
}  // namespace

ABSL_FLAG(std::string, listen, kDefaults.listen_address,
          "host:port to serve gRPC on (port 0: any free port). Env GEARKV_LISTEN.");
ABSL_FLAG(gearkv::server::ByteSize, memory_budget,
          gearkv::server::ByteSize{kDefaults.memory_budget_bytes},
          "memory tier budget, e.g. 4GiB. Env GEARKV_MEMORY_BUDGET.");
ABSL_FLAG(std::string, disk_dir, kDefaults.disk_dir,
          "RocksDB directory of the disk tier; empty = no disk tier. Env GEARKV_DISK_DIR.");
ABSL_FLAG(gearkv::server::ByteSize, disk_budget,
          gearkv::server::ByteSize{kDefaults.disk_budget_bytes},
          "disk tier budget, e.g. 64GiB. Env GEARKV_DISK_BUDGET.");
ABSL_FLAG(std::string, disk_policy,
          std::string(gearkv::server::DiskPolicyName(kDefaults.disk_policy)),
          "write_through (every Put also on disk) or spill_on_evict (memory evictions go to "
          "disk). Env GEARKV_DISK_POLICY.");
ABSL_FLAG(std::string, disk_sync, std::string(gearkv::server::DiskSyncName(kDefaults.disk_sync)),
          "none (a disk write survives a process crash, not a power loss) or always (fsync "
          "before the Put returns). Env GEARKV_DISK_SYNC.");
ABSL_FLAG(std::string, default_preset, kDefaults.default_preset,
          "codec preset for Puts that name none: none, kivi4, kivi2, gear4, gear2, gearl4, "
          "gearl2. Env GEARKV_DEFAULT_PRESET.");
ABSL_FLAG(gearkv::server::ByteSize, max_block_bytes,
          gearkv::server::ByteSize{kDefaults.max_block_bytes},
          "largest tensor (raw bytes) a Put may declare; larger is RESOURCE_EXHAUSTED. "
          "Env GEARKV_MAX_BLOCK_BYTES.");
ABSL_FLAG(gearkv::server::ByteSize, max_inflight_bytes,
          gearkv::server::ByteSize{kDefaults.max_inflight_bytes},
          "raw tensor bytes held at once by Puts being received/compressed and RAW Gets; "
          "beyond, RESOURCE_EXHAUSTED. Idle tensor buffers kept for reuse take at most an "
          "eighth of it more. Env GEARKV_MAX_INFLIGHT_BYTES.");
ABSL_FLAG(int, worker_threads, kDefaults.worker_threads,
          "codec worker threads; 0 = one per hardware thread. Env GEARKV_WORKER_THREADS.");
ABSL_FLAG(int, worker_queue_depth, kDefaults.worker_queue_depth,
          "codec tasks that may wait for a worker; beyond, calls get RESOURCE_EXHAUSTED. "
          "Env GEARKV_WORKER_QUEUE_DEPTH.");
ABSL_FLAG(int, codec_threads, kDefaults.codec_threads,
          "threads one compression or decompression may use; 0 = every hardware thread "
          "(helpers come from one pool shared by all calls). Env GEARKV_CODEC_THREADS.");
ABSL_FLAG(int, io_threads, kDefaults.io_threads,
          "store access threads (Get, Lookup, Delete). Env GEARKV_IO_THREADS.");
ABSL_FLAG(int, io_queue_depth, kDefaults.io_queue_depth,
          "store tasks that may wait; beyond, RESOURCE_EXHAUSTED. Env GEARKV_IO_QUEUE_DEPTH.");
ABSL_FLAG(int, metrics_port, kDefaults.metrics_port,
          "port of the Prometheus /metrics endpoint; 0 = none. Env GEARKV_METRICS_PORT.");
ABSL_FLAG(absl::Duration, drain_deadline, kDefaults.drain_deadline,
          "on SIGTERM, how long in-flight calls may finish, e.g. 30s. Env GEARKV_DRAIN_DEADLINE.");
ABSL_FLAG(absl::Duration, lame_duck, kDefaults.lame_duck,
          "on SIGTERM, how long health answers NOT_SERVING while the listener still accepts, "
          "before the drain (0 = close at once). Env GEARKV_LAME_DUCK.");
ABSL_FLAG(absl::Duration, max_connection_idle, kDefaults.max_connection_idle,
          "close a connection that has had no call for this long. Env "
          "GEARKV_MAX_CONNECTION_IDLE.");
ABSL_FLAG(absl::Duration, max_connection_age, kDefaults.max_connection_age,
          "close every connection after this long (0 = never); its calls get "
          "--max_connection_age_grace to finish. Env GEARKV_MAX_CONNECTION_AGE.");
ABSL_FLAG(absl::Duration, max_connection_age_grace, kDefaults.max_connection_age_grace,
          "see --max_connection_age. Env GEARKV_MAX_CONNECTION_AGE_GRACE.");
ABSL_FLAG(absl::Duration, keepalive_time, kDefaults.keepalive_time,
          "ping a connection after this long without traffic. Env GEARKV_KEEPALIVE_TIME.");
ABSL_FLAG(absl::Duration, keepalive_timeout, kDefaults.keepalive_timeout,
          "close a connection whose ping is not answered within this. Env "
          "GEARKV_KEEPALIVE_TIMEOUT.");
ABSL_FLAG(std::string, auth_token, "",
          "when set, KVCache calls must send 'authorization: Bearer <token>'; prefer the "
          "environment variable GEARKV_AUTH_TOKEN (a command line is visible to all users).");
ABSL_FLAG(std::string, backend, std::string(gearkv::BackendName(kDefaults.backend)),
          "codec backend: auto (CUDA when a GPU is usable), cpu or cuda. Env GEARKV_BACKEND.");

namespace gearkv::server {

const std::vector<std::string_view>& ServerFlagNames() {
  static const auto* const kNames = new std::vector<std::string_view>{"listen",
                                                                      "memory_budget",
                                                                      "disk_dir",
                                                                      "disk_budget",
                                                                      "disk_policy",
                                                                      "default_preset",
                                                                      "max_block_bytes",
                                                                      "worker_threads",
                                                                      "worker_queue_depth",
                                                                      "codec_threads",
                                                                      "io_threads",
                                                                      "io_queue_depth",
                                                                      "metrics_port",
                                                                      "drain_deadline",
                                                                      "backend",
                                                                      "auth_token",
                                                                      "max_inflight_bytes",
                                                                      "disk_sync",
                                                                      "lame_duck",
                                                                      "max_connection_idle",
                                                                      "max_connection_age",
                                                                      "max_connection_age_grace",
                                                                      "keepalive_time",
                                                                      "keepalive_timeout"};
  return *kNames;
}

std::string EnvVarName(std::string_view flag) {
  return absl::StrCat("GEARKV_", absl::AsciiStrToUpper(ToAbsl(flag)));
}

absl::Status ApplyEnvironment(const std::function<const char*(const char*)>& getenv) {
  for (std::string_view name : ServerFlagNames()) {
    const std::string var = EnvVarName(name);
    const char* value = getenv(var.c_str());
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(ToAbsl(name));
    if (flag == nullptr)
      return absl::InternalError(absl::StrCat("flag --", ToAbsl(name), " missing"));
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment variable ", var, "=\"", value, "\": ", error));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerConfig> ConfigFromFlags() {
  ServerConfig config;
  config.listen_address = absl::GetFlag(FLAGS_listen);
  config.memory_budget_bytes = absl::GetFlag(FLAGS_memory_budget).bytes;
  config.disk_dir = absl::GetFlag(FLAGS_disk_dir);
  config.disk_budget_bytes = absl::GetFlag(FLAGS_disk_budget).bytes;
  GEARKV_ASSIGN_OR_RETURN(config.disk_policy, ParseDiskPolicy(absl::GetFlag(FLAGS_disk_policy)));
  GEARKV_ASSIGN_OR_RETURN(config.disk_sync, ParseDiskSync(absl::GetFlag(FLAGS_disk_sync)));
  config.default_preset = absl::GetFlag(FLAGS_default_preset);
  config.max_block_bytes = absl::GetFlag(FLAGS_max_block_bytes).bytes;
  config.max_inflight_bytes = absl::GetFlag(FLAGS_max_inflight_bytes).bytes;
  config.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  config.worker_queue_depth = absl::GetFlag(FLAGS_worker_queue_depth);
  config.codec_threads = absl::GetFlag(FLAGS_codec_threads);
  config.io_threads = absl::GetFlag(FLAGS_io_threads);
  config.io_queue_depth = absl::GetFlag(FLAGS_io_queue_depth);
  config.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  config.drain_deadline = absl::GetFlag(FLAGS_drain_deadline);
  config.lame_duck = absl::GetFlag(FLAGS_lame_duck);
  config.max_connection_idle = absl::GetFlag(FLAGS_max_connection_idle);
  config.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  config.max_connection_age_grace = absl::GetFlag(FLAGS_max_connection_age_grace);
  config.keepalive_time = absl::GetFlag(FLAGS_keepalive_time);
  config.keepalive_timeout = absl::GetFlag(FLAGS_keepalive_timeout);
  GEARKV_ASSIGN_OR_RETURN(config.backend, ParseBackend(absl::GetFlag(FLAGS_backend)));
  config.auth_token = absl::GetFlag(FLAGS_auth_token);
  GEARKV_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

absl::StatusOr<ServerConfig> ParseServerCommandLine(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "gearkv-server: the gearkv KV-cache compression service (gRPC).\n"
      "Every --flag has an environment variable GEARKV_FLAG (upper case); the command line "
      "wins.\nExample: gearkv-server --listen=127.0.0.1:50051 --memory_budget=8GiB "
      "--default_preset=gear4");
  GEARKV_RETURN_IF_ERROR(ApplyEnvironment([](const char* name) { return std::getenv(name); }));
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::vector<std::string> extra(rest.begin() + 1, rest.end());
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected arguments: ", absl::StrJoin(extra, " ")));
  }
  return ConfigFromFlags();
}

}  // namespace gearkv::server
