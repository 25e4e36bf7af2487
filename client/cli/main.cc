// gearkv — command-line client of a gearkv server. `gearkv --help` lists the subcommands.
#include "CLI/CLI.hpp"
#include "cli_common.h"
#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"gearkv: store and fetch KV-cache blocks on a gearkv server"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand
  gearkv::cli::GlobalFlags global;
  gearkv::cli::AddGlobalFlags(app, global);
  int exit_code = gearkv::cli::kExitOk;
  gearkv::cli::AddPutCommand(app, global, &exit_code);
  gearkv::cli::AddGetCommand(app, global, &exit_code);
  gearkv::cli::AddLookupCommand(app, global, &exit_code);
  gearkv::cli::AddDeleteCommand(app, global, &exit_code);
  gearkv::cli::AddStatsCommand(app, global, &exit_code);
  gearkv::cli::AddHealthCommand(app, global, &exit_code);
  gearkv::cli::AddBenchCommand(app, global, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
