#include "redis_load.h"

#include <hiredis.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gearkv/status_macros.h"
#include "random_tensor.h"

namespace gearkv::bench {
namespace {

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using RedisConnection = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

absl::StatusOr<RedisConnection> Connect(const RedisLoadConfig& config) {
  RedisConnection c(redisConnect(config.host.c_str(), config.port));
  if (c == nullptr || c->err) {
    return absl::UnavailableError(absl::StrCat("redis ", config.host, ":", config.port, ": ",
                                               c ? c->errstr : "cannot allocate a context"));
  }
  return c;
}

absl::Status ReplyStatus(redisContext* c, const Reply& r) {
  if (r == nullptr) return absl::UnavailableError(absl::StrCat("redis: ", c->errstr));
  if (r->type == REDIS_REPLY_ERROR) return absl::InternalError(absl::StrCat("redis: ", r->str));
  return absl::OkStatus();
}

absl::Status Set(redisContext* c, const std::string& key, const std::string& value) {
  Reply r(static_cast<redisReply*>(
      redisCommand(c, "SET %b %b", key.data(), key.size(), value.data(), value.size())));
  return ReplyStatus(c, r);
}

// GET; the value's size on success.
absl::StatusOr<size_t> Get(redisContext* c, const std::string& key) {
  Reply r(static_cast<redisReply*>(redisCommand(c, "GET %b", key.data(), key.size())));
  GEARKV_RETURN_IF_ERROR(ReplyStatus(c, r));
  if (r->type != REDIS_REPLY_STRING) return absl::NotFoundError("redis: key missing");
  return static_cast<size_t>(r->len);
}

// MEMORY USAGE of `key`: its value, key and object overhead as the allocator rounds them.
absl::StatusOr<uint64_t> MemoryUsage(redisContext* c, const std::string& key) {
  Reply r(static_cast<redisReply*>(
      redisCommand(c, "MEMORY USAGE %b SAMPLES 0", key.data(), key.size())));
  GEARKV_RETURN_IF_ERROR(ReplyStatus(c, r));
  if (r->type != REDIS_REPLY_INTEGER) return absl::InternalError("redis: MEMORY USAGE failed");
  return static_cast<uint64_t>(r->integer);
}

enum class Op { kSet, kGet };

cli::OpReport RunPhase(const RedisLoadConfig& config, std::vector<RedisConnection>& conns,
                       const std::vector<std::vector<std::string>>& keys, const std::string& value,
                       Op op) {
  cli::TimedLoad load;
  load.name = op == Op::kSet ? "redis set" : "redis get";
  load.clients = static_cast<int>(conns.size());
  load.duration = config.duration;
  load.raw_bytes_per_op = value.size();
  load.progress = config.progress;
  return cli::RunTimedLoad(load, [&](int c, uint64_t i) {
    redisContext* conn = conns[c].get();
    const std::string& key = keys[c][i % keys[c].size()];
    cli::OpOutcome outcome;
    if (op == Op::kSet) {
      outcome.status = Set(conn, key, value);
    } else {
      auto got = Get(conn, key);
      outcome.status = got.status();
      if (got.ok() && *got != value.size())
        outcome.status = absl::InternalError("redis: short GET");
    }
    outcome.wire_bytes = value.size();
    outcome.client_broken = conn->err != 0;  // the connection is unusable
    return outcome;
  });
}

}  // namespace

absl::StatusOr<RedisLoadReport> RunRedisLoad(const RedisLoadConfig& config) {
  GEARKV_RETURN_IF_ERROR(ValidateShape(config.shape));
  const Tensor tensor = cli::GaussianKvTensor(config.shape, config.dtype, config.seed);
  const std::string& value = tensor.data;
  RedisLoadReport report;
  report.block_bytes = value.size();
  std::vector<RedisConnection> conns;
  std::vector<std::vector<std::string>> keys(config.clients);
  const std::string run = absl::StrCat(::getpid(), "-", absl::ToUnixMicros(absl::Now()));
  for (int c = 0; c < config.clients; ++c) {
    GEARKV_ASSIGN_OR_RETURN(conns.emplace_back(), Connect(config));
    for (int k = 0; k < config.keys_per_client; ++k) {
      keys[c].push_back(absl::StrCat("redis-bench-", run, "-", c, "-", k));
    }
  }
  uint64_t total = 0;
  for (int c = 0; c < config.clients; ++c) {
    for (const std::string& key : keys[c]) {
      GEARKV_RETURN_IF_ERROR(Set(conns[c].get(), key, value));
      GEARKV_ASSIGN_OR_RETURN(const uint64_t bytes, MemoryUsage(conns[c].get(), key));
      total += bytes;
    }
  }
  report.server_bytes_per_block =
      static_cast<double>(total) / (uint64_t(config.clients) * config.keys_per_client);
  report.tokens_per_gib = config.shape.tokens / report.server_bytes_per_block * (1 << 30);
  report.set = RunPhase(config, conns, keys, value, Op::kSet);
  report.get = RunPhase(config, conns, keys, value, Op::kGet);
  for (int c = 0; c < config.clients; ++c) {
    for (const std::string& key : keys[c]) {
      Reply(
          static_cast<redisReply*>(redisCommand(conns[c].get(), "DEL %b", key.data(), key.size())));
    }
  }
  return report;
}

}  // namespace gearkv::bench
