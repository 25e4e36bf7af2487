#include "store_factory.h"

#include <cstdio>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gearkv/base/strings.h"
#include "gearkv/server/config_flags.h"
#include "gearkv/status_macros.h"
#include "gearkv/store/disk_store.h"
#include "gearkv/store/memory_store.h"
#include "gearkv/store/tiered_store.h"

namespace gearkv::server {

absl::StatusOr<std::unique_ptr<store::BlockStore>> MakeStore(const ServerConfig& config) {
  store::MemoryStoreOptions memory_options;
  memory_options.capacity_bytes = config.memory_budget_bytes;
  auto memory = std::make_unique<store::MemoryStore>(std::move(memory_options));
  std::unique_ptr<store::BlockStore> disk;
  if (!config.disk_dir.empty()) {
    store::DiskStoreOptions disk_options;
    disk_options.path = config.disk_dir;
    disk_options.capacity_bytes = config.disk_budget_bytes;
    disk_options.sync =
        config.disk_sync == DiskSync::kAlways ? store::DiskSync::kAlways : store::DiskSync::kNone;
    disk_options.log = [](std::string_view line) {
      std::fprintf(stderr, "gearkv-server: %.*s\n", static_cast<int>(line.size()), line.data());
    };
    GEARKV_ASSIGN_OR_RETURN(disk, store::DiskStore::Open(std::move(disk_options)));
  }
  store::TieredStoreOptions tiered_options;
  tiered_options.policy = config.disk_policy == DiskPolicy::kSpillOnEvict
                              ? store::LowerTierPolicy::kSpillOnEvict
                              : store::LowerTierPolicy::kWriteThrough;
  return std::unique_ptr<store::BlockStore>(
      std::make_unique<store::TieredStore>(std::move(memory), std::move(disk), tiered_options));
}

std::string DescribeTiers(const ServerConfig& config) {
  std::string out =
      absl::StrCat("memory(", AbslUnparseFlag(ByteSize{config.memory_budget_bytes}), ")");
  if (!config.disk_dir.empty()) {
    absl::StrAppend(&out, " + disk(", AbslUnparseFlag(ByteSize{config.disk_budget_bytes}), ", ",
                    ToAbsl(DiskPolicyName(config.disk_policy)), ", ", config.disk_dir, ")");
  }
  return out;
}

}  // namespace gearkv::server
