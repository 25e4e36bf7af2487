// Builds the store tiers a ServerConfig describes.
#ifndef GEARKV_SERVER_SRC_STORE_FACTORY_H_
#define GEARKV_SERVER_SRC_STORE_FACTORY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gearkv/server/config.h"
#include "gearkv/store/block_store.h"

namespace gearkv::server {

// A memory tier of config.memory_budget_bytes; with config.disk_dir, a RocksDB disk tier of
// config.disk_budget_bytes behind it, fed by config.disk_policy. The disk store's error (e.g.
// FAILED_PRECONDITION when the directory is locked by another process) when it cannot open.
absl::StatusOr<std::unique_ptr<store::BlockStore>> MakeStore(const ServerConfig& config);

// "memory(4GiB)" or "memory(4GiB) + disk(64GiB, write_through, /path)".
std::string DescribeTiers(const ServerConfig& config);

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_STORE_FACTORY_H_
