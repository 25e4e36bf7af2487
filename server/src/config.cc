#include "gearkv/server/config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"

namespace gearkv::server {

std::string_view DiskPolicyName(DiskPolicy policy) {
  switch (policy) {
    case DiskPolicy::kWriteThrough:
      return "write_through";
    case DiskPolicy::kSpillOnEvict:
      return "spill_on_evict";
  }
  return "?";
}

absl::StatusOr<DiskPolicy> ParseDiskPolicy(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(ToAbsl(name));
  if (lower == "write_through" || lower == "write-through") return DiskPolicy::kWriteThrough;
  if (lower == "spill_on_evict" || lower == "spill-on-evict") return DiskPolicy::kSpillOnEvict;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown disk policy '", ToAbsl(name), "' (write_through or spill_on_evict)"));
}

std::string_view DiskSyncName(DiskSync sync) {
  return sync == DiskSync::kAlways ? "always" : "none";
}

absl::StatusOr<DiskSync> ParseDiskSync(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(ToAbsl(name));
  if (lower == "none") return DiskSync::kNone;
  if (lower == "always") return DiskSync::kAlways;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown disk sync mode '", ToAbsl(name), "' (none or always)"));
}

absl::StatusOr<Backend> ParseBackend(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(ToAbsl(name));
  if (lower == "auto") return Backend::kAuto;
  if (lower == "cpu") return Backend::kCpu;
  if (lower == "cuda" || lower == "gpu") return Backend::kCuda;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown backend '", ToAbsl(name), "' (auto, cpu or cuda)"));
}

absl::Status ValidateConfig(const ServerConfig& config) {
  auto invalid = [](auto&&... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (config.listen_address.empty()) return invalid("listen address is empty");
  if (config.memory_budget_bytes == 0) return invalid("memory budget must be > 0 bytes");
  if (!config.disk_dir.empty() && config.disk_budget_bytes == 0) {
    return invalid("disk budget must be > 0 bytes when a disk directory is set");
  }
  if (!PresetSpec(config.default_preset).ok()) {
    return invalid("unknown default preset '", config.default_preset, "'");
  }
  if (config.max_block_bytes == 0) return invalid("max block bytes must be > 0");
  if (config.max_inflight_bytes < config.max_block_bytes) {
    return invalid("max inflight bytes (", config.max_inflight_bytes,
                   ") must be at least max block bytes (", config.max_block_bytes, ")");
  }
  if (config.worker_threads < 0) return invalid("worker threads must be >= 0 (0 = auto)");
  if (config.worker_queue_depth < 0) return invalid("worker queue depth must be >= 0");
  if (config.codec_threads < 0) return invalid("codec threads must be >= 0 (0 = auto)");
  if (config.io_threads < 1) return invalid("io threads must be >= 1");
  if (config.io_queue_depth < 0) return invalid("io queue depth must be >= 0");
  if (config.metrics_port < 0 || config.metrics_port > 65535) {
    return invalid("metrics port ", config.metrics_port, " is outside 0..65535");
  }
  if (config.drain_deadline < absl::ZeroDuration()) return invalid("drain deadline is negative");
  if (config.lame_duck < absl::ZeroDuration()) return invalid("lame duck period is negative");
  if (config.max_connection_idle <= absl::ZeroDuration() ||
      config.keepalive_time <= absl::ZeroDuration() ||
      config.keepalive_timeout <= absl::ZeroDuration()) {
    return invalid("max connection idle, keepalive time and keepalive timeout must be positive");
  }
  if (config.max_connection_age < absl::ZeroDuration() ||
      config.max_connection_age_grace < absl::ZeroDuration()) {
    return invalid("max connection age and its grace must not be negative");
  }
  return absl::OkStatus();
}

}  // namespace gearkv::server
