// `gearkv lookup`, `delete`, `stats` and `health`.
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "commands.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"
#include "nlohmann/json.hpp"

namespace gearkv::cli {
namespace {

struct LookupFlags {
  std::string ns;
  std::vector<std::string> keys;
  std::string keys_file;
  bool hex = false;
};

absl::Status RunLookup(const GlobalFlags& global, const LookupFlags& flags) {
  std::vector<std::string> keys;
  for (const std::string& k : flags.keys) {
    GEARKV_ASSIGN_OR_RETURN(keys.emplace_back(), DecodeKey(k, flags.hex));
  }
  if (!flags.keys_file.empty()) {
    std::ifstream in(flags.keys_file);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", flags.keys_file, "'"));
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      GEARKV_ASSIGN_OR_RETURN(keys.emplace_back(), DecodeKey(line, flags.hex));
    }
  }
  if (keys.empty()) return absl::InvalidArgumentError("lookup: no keys given");
  GEARKV_ASSIGN_OR_RETURN(auto client, MakeClient(global));
  GEARKV_ASSIGN_OR_RETURN(LookupResult result,
                          client->Lookup(flags.ns, keys, MakeCallOptions(global)));
  for (size_t i = 0; i < keys.size(); ++i) {
    std::cout << (result.exists[i] ? "hit  " : "miss ") << DisplayKey(keys[i]) << "\n";
  }
  std::cout << "prefix_hits " << result.prefix_hits << "\n";
  return absl::OkStatus();
}

absl::Status RunDelete(const GlobalFlags& global, const std::string& ns, const std::string& key,
                       bool hex) {
  GEARKV_ASSIGN_OR_RETURN(std::string k, DecodeKey(key, hex));
  GEARKV_ASSIGN_OR_RETURN(auto client, MakeClient(global));
  GEARKV_ASSIGN_OR_RETURN(bool deleted, client->Delete(ns, k, MakeCallOptions(global)));
  std::cout << (deleted ? "deleted " : "not found ") << ns << "/" << DisplayKey(k) << "\n";
  return absl::OkStatus();
}

absl::Status RunStats(const GlobalFlags& global, bool json) {
  GEARKV_ASSIGN_OR_RETURN(auto client, MakeClient(global));
  GEARKV_ASSIGN_OR_RETURN(ServerStats stats, client->Stats(MakeCallOptions(global)));
  if (json) {
    nlohmann::json j = {
        {"backend", stats.backend}, {"version", stats.version}, {"tiers", nlohmann::json::array()}};
    for (const auto& t : stats.tiers) {
      j["tiers"].push_back({{"tier", t.tier},
                            {"blocks", t.blocks},
                            {"bytes", t.bytes},
                            {"capacity_bytes", t.capacity_bytes},
                            {"hits", t.hits},
                            {"misses", t.misses},
                            {"evictions", t.evictions},
                            {"expirations", t.expirations}});
    }
    std::cout << j.dump(2) << "\n";
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat("gearkv %s, backend %s\n", ToAbsl(stats.version),
                               ToAbsl(stats.backend));
  std::cout << absl::StrFormat("%-8s %10s %12s %12s %10s %10s %10s %10s\n", "tier", "blocks",
                               "bytes", "capacity", "hits", "misses", "evictions", "expired");
  for (const auto& t : stats.tiers) {
    std::cout << absl::StrFormat("%-8s %10d %12s %12s %10d %10d %10d %10d\n", ToAbsl(t.tier),
                                 t.blocks, ToAbsl(FormatBytes(t.bytes)),
                                 ToAbsl(FormatBytes(t.capacity_bytes)), t.hits, t.misses,
                                 t.evictions, t.expirations);
  }
  return absl::OkStatus();
}

}  // namespace

void AddLookupCommand(CLI::App& app, const GlobalFlags& global, int* exit_code) {
  auto flags = std::make_shared<LookupFlags>();
  CLI::App* cmd = app.add_subcommand(
      "lookup", "which keys (in prefix order) exist, and the length of the prefix hit");
  cmd->add_option("--namespace,-n", flags->ns, "namespace")->required();
  cmd->add_option("keys", flags->keys, "keys in prefix order");
  cmd->add_option("--keys_file", flags->keys_file, "file with one key per line");
  cmd->add_flag("--hex", flags->hex, "keys are given in hex");
  cmd->callback([&global, flags, exit_code] {
    absl::Status s = RunLookup(global, *flags);
    *exit_code = s.ok() ? kExitOk : ReportError(s);
  });
}

void AddDeleteCommand(CLI::App& app, const GlobalFlags& global, int* exit_code) {
  struct Flags {
    std::string ns, key;
    bool hex = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("delete", "remove a block (exit 0 whether or not it existed)");
  cmd->add_option("--namespace,-n", flags->ns, "namespace")->required();
  cmd->add_option("--key,-k", flags->key, "block key")->required();
  cmd->add_flag("--key_hex", flags->hex, "the key is given in hex");
  cmd->callback([&global, flags, exit_code] {
    absl::Status s = RunDelete(global, flags->ns, flags->key, flags->hex);
    *exit_code = s.ok() ? kExitOk : ReportError(s);
  });
}

void AddStatsCommand(CLI::App& app, const GlobalFlags& global, int* exit_code) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("stats", "store tiers: blocks, bytes, hits, evictions");
  cmd->add_flag("--json", *json, "print JSON");
  cmd->callback([&global, json, exit_code] {
    absl::Status s = RunStats(global, *json);
    *exit_code = s.ok() ? kExitOk : ReportError(s);
  });
}

void AddHealthCommand(CLI::App& app, const GlobalFlags& global, int* exit_code) {
  auto service = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "health", "grpc.health.v1 check; exit 0 when SERVING, 1 otherwise (for HEALTHCHECK)");
  cmd->add_option("--service", *service, "service name (empty = the whole server)");
  cmd->callback([&global, service, exit_code] {
    GlobalFlags once = global;
    once.attempts = 1;  // a health probe reports what it sees, without retrying
    auto client = MakeClient(once);
    if (!client.ok()) {
      *exit_code = ReportError(client.status());
      return;
    }
    auto state = (*client)->Health(*service, MakeCallOptions(once));
    if (!state.ok()) {
      *exit_code = ReportError(state.status());
      return;
    }
    std::cout << HealthStateName(*state) << "\n";
    *exit_code = *state == HealthState::kServing ? kExitOk : kExitError;
  });
}

}  // namespace gearkv::cli
