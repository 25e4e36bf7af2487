// The `gearkv` subcommands. Each Add*Command registers one subcommand on `app`; when it runs,
// it stores its process exit code in `*exit_code`.
#ifndef GEARKV_CLIENT_CLI_COMMANDS_H_
#define GEARKV_CLIENT_CLI_COMMANDS_H_

#include "CLI/CLI.hpp"
#include "cli_common.h"

namespace gearkv::cli {

void AddPutCommand(CLI::App& app, const GlobalFlags& global, int* exit_code);
void AddGetCommand(CLI::App& app, const GlobalFlags& global, int* exit_code);
void AddLookupCommand(CLI::App& app, const GlobalFlags& global, int* exit_code);
void AddDeleteCommand(CLI::App& app, const GlobalFlags& global, int* exit_code);
void AddStatsCommand(CLI::App& app, const GlobalFlags& global, int* exit_code);
void AddHealthCommand(CLI::App& app, const GlobalFlags& global, int* exit_code);
void AddBenchCommand(CLI::App& app, const GlobalFlags& global, int* exit_code);

}  // namespace gearkv::cli

#endif  // GEARKV_CLIENT_CLI_COMMANDS_H_
