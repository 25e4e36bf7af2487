// Flags and helpers shared by the `gearkv` subcommands.
#ifndef GEARKV_CLIENT_CLI_CLI_COMMON_H_
#define GEARKV_CLIENT_CLI_CLI_COMMON_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gearkv/client.h"

namespace gearkv::cli {

// Exit codes of the tool.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // the call failed (message on stderr)
inline constexpr int kExitUsage = 2;  // bad command line (CLI11's own code for parse errors)

// Options of the top-level command, visible to every subcommand.
struct GlobalFlags {
  std::string target = "127.0.0.1:50051";  // env GEARKV_TARGET
  double deadline_seconds = 60;
  int attempts = 5;
  std::string token;  // env GEARKV_TOKEN
};
void AddGlobalFlags(CLI::App& app, GlobalFlags& flags);
absl::StatusOr<std::unique_ptr<Client>> MakeClient(const GlobalFlags& flags,
                                                   bool own_connection = false);
// An absl::Duration from the --deadline_seconds flag.
CallOptions MakeCallOptions(const GlobalFlags& flags);

// "error: NOT_FOUND: <message>" on stderr; returns kExitError.
int ReportError(const absl::Status& status);

// A key given on the command line: the text itself, or with `hex` its hex decoding.
absl::StatusOr<std::string> DecodeKey(std::string_view text, bool hex);
// Printable form of a key: as is when printable ASCII, else "hex:..."
std::string DisplayKey(std::string_view key);

// Flags that choose a codec: --preset plus per-parameter overrides.
// --preset and the per-parameter overrides, bound straight to the request's fields.
void AddCodecFlags(CLI::App& cmd, CodecRequest& request);

// A progress display for one transfer on stderr ("\rput  12.00 MiB / 32.00 MiB  37%"), at
// most ~5 updates a second, ending with a newline. Empty (no display) unless `force` or
// stderr is a terminal.
ProgressCallback MakeTransferProgress(std::string verb, bool force);

// "1.50 GiB", "12.0 MiB", "512 B".
std::string FormatBytes(double bytes);

}  // namespace gearkv::cli

#endif  // GEARKV_CLIENT_CLI_CLI_COMMON_H_
