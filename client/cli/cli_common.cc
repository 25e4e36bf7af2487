#include "cli_common.h"

#include <unistd.h>

#include <iostream>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gearkv/wire.h"

namespace gearkv::cli {

void AddGlobalFlags(CLI::App& app, GlobalFlags& flags) {
  app.add_option("--target", flags.target, "gRPC address of the gearkv server")
      ->envname("GEARKV_TARGET")
      ->capture_default_str();
  app.add_option("--deadline_seconds", flags.deadline_seconds,
                 "deadline of each call, retries included")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--attempts", flags.attempts, "attempts per call (UNAVAILABLE is retried)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--token", flags.token, "bearer token, when the server requires one")
      ->envname("GEARKV_TOKEN");
}

absl::StatusOr<std::unique_ptr<Client>> MakeClient(const GlobalFlags& flags, bool own_connection) {
  ClientOptions options;
  options.target = flags.target;
  options.default_deadline = absl::Seconds(flags.deadline_seconds);
  options.max_attempts = flags.attempts;
  options.auth_token = flags.token;
  options.own_connection = own_connection;
  return Client::Create(options);
}

CallOptions MakeCallOptions(const GlobalFlags& flags) {
  CallOptions call;
  call.deadline = absl::Seconds(flags.deadline_seconds);
  return call;
}

int ReportError(const absl::Status& status) {
  std::cerr << "error: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
            << "\n";
  return kExitError;
}

absl::StatusOr<std::string> DecodeKey(std::string_view text, bool hex) {
  if (!hex) return std::string(text);
  const absl::string_view t(text.data(), text.size());
  if (t.size() % 2 != 0 || t.find_first_not_of("0123456789abcdefABCDEF") != t.npos) {
    return absl::InvalidArgumentError(absl::StrCat("key '", t, "' is not hex"));
  }
  return absl::HexStringToBytes(t);
}

std::string DisplayKey(std::string_view key) {
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) {
      return "hex:" + absl::BytesToHexString(absl::string_view(key.data(), key.size()));
    }
  }
  return std::string(key);
}

void AddCodecFlags(CLI::App& cmd, CodecRequest& flags) {
  cmd.add_option("--preset", flags.preset, wire::KnownPresetList() + " (default: the server's)");
  cmd.add_option("--bits", flags.bits, "override: quantization bits (2, 3, 4, 8)");
  cmd.add_option("--group_size", flags.group_size, "override: quantization group size");
  cmd.add_option("--rank", flags.rank, "override: low-rank rank (0 = none)");
  cmd.add_option("--outlier_ratio", flags.outlier_ratio, "override: sparse fraction (0 = none)");
  cmd.add_option("--power_iterations", flags.power_iterations,
                 "override: subspace iteration rounds");
  cmd.add_option("--seed", flags.seed, "override: seed of the subspace iteration");
}

ProgressCallback MakeTransferProgress(std::string verb, bool force) {
  if (!force && !::isatty(2)) return nullptr;
  auto last = std::make_shared<absl::Time>(absl::InfinitePast());
  return [verb = std::move(verb), last](uint64_t done, uint64_t total) {
    const absl::Time now = absl::Now();
    if (done < total && now - *last < absl::Milliseconds(200)) return;
    *last = now;
    std::cerr << absl::StrFormat("\r%s %10s / %s  %3.0f%%", verb, FormatBytes(done),
                                 FormatBytes(total), total ? 100.0 * done / total : 100.0);
    if (done >= total) std::cerr << "\n";
  };
}

std::string FormatBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%.0f B", bytes) : absl::StrFormat("%.2f %s", bytes, units[u]);
}

}  // namespace gearkv::cli
