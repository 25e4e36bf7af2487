// gearkv-server: parse the config, build and start the server, wait for SIGTERM/SIGINT, drain
// (a second SIGTERM/SIGINT during the drain exits at once, with status 128 + the signal).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "gearkv/server/config_flags.h"
#include "gearkv/server/server.h"
#include "gearkv/server/signals.h"

// jemalloc's options (the server links it, server/CMakeLists.txt): a background thread returns
// freed pages to the system within about a second instead of keeping them for reuse, so RSS
// follows the budgets (README, "Memory") rather than the peak of past loads.
extern "C" {
// NOLINTNEXTLINE: the name jemalloc reads at start-up.
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}

int main(int argc, char** argv) {
  // Before any thread exists, so that every thread inherits the mask and only sigwait sees them.
  gearkv::server::BlockTerminationSignals();

  absl::StatusOr<gearkv::server::ServerConfig> config =
      gearkv::server::ParseServerCommandLine(argc, argv);
  if (!config.ok()) {
    std::fprintf(stderr, "gearkv-server: %s\n", config.status().ToString().c_str());
    return 2;
  }

  absl::StatusOr<std::unique_ptr<gearkv::server::Server>> server =
      gearkv::server::Server::Start(*config);
  if (!server.ok()) {
    std::fprintf(stderr, "gearkv-server: cannot start: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("gearkv-server listening on %s (%s)\n", (*server)->address().c_str(),
              (*server)->Describe().c_str());
  std::fflush(stdout);

  const int signal = gearkv::server::WaitForTerminationSignal();
  std::printf(
      "gearkv-server: %s, draining (NOT_SERVING for %s, then up to %s; a second SIGTERM or SIGINT "
      "exits at once)\n",
      strsignal(signal), absl::FormatDuration(config->lame_duck).c_str(),
      absl::FormatDuration(config->drain_deadline).c_str());
  std::fflush(stdout);
  // An operator who does not want to wait for the drain signals again: exit without finishing
  // the in-flight calls, which fail on the client's side; every Put already acknowledged is in
  // its tiers (the disk tier's RocksDB recovers from its log on the next start).
  std::thread([] {
    const int again = gearkv::server::WaitForTerminationSignal();
    std::printf("gearkv-server: second %s, exiting without finishing the drain\n",
                strsignal(again));
    std::fflush(stdout);
    std::_Exit(128 + again);
  }).detach();
  (*server)->Drain(config->drain_deadline, config->lame_duck);
  std::printf("gearkv-server: stopped\n");
  return 0;
}
