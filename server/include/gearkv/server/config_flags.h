// Fills a ServerConfig from command-line flags and GEARKV_* environment variables.
//
// Every flag --name has the environment variable GEARKV_NAME (upper case), e.g. --listen and
// GEARKV_LISTEN, --memory_budget and GEARKV_MEMORY_BUDGET. The environment sets the default;
// a flag on the command line wins over it. Byte sizes accept a plain number of bytes or a
// suffix: K/KiB, M/MiB, G/GiB, T/TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000).
//
// Thread-safety: call from main() before starting threads (absl flags are process-global).
#ifndef GEARKV_SERVER_CONFIG_FLAGS_H_
#define GEARKV_SERVER_CONFIG_FLAGS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gearkv/server/config.h"

namespace gearkv::server {

// A byte count with human-readable parsing, the type of the size flags.
struct ByteSize {
  uint64_t bytes = 0;
};
bool AbslParseFlag(absl::string_view text, ByteSize* size, std::string* error);
std::string AbslUnparseFlag(ByteSize size);
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);

// Names of the server's flags, each with an environment variable (EnvVarName).
const std::vector<std::string_view>& ServerFlagNames();
std::string EnvVarName(std::string_view flag);  // "listen" -> "GEARKV_LISTEN"

// Sets every flag whose environment variable `getenv` returns non-null for.
// INVALID_ARGUMENT naming the variable when a value does not parse.
absl::Status ApplyEnvironment(const std::function<const char*(const char*)>& getenv);

// The config the flags currently describe, validated (ValidateConfig).
absl::StatusOr<ServerConfig> ConfigFromFlags();

// ApplyEnvironment(::getenv), absl::ParseCommandLine, ConfigFromFlags. Exits on --help.
absl::StatusOr<ServerConfig> ParseServerCommandLine(int argc, char** argv);

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_CONFIG_FLAGS_H_
