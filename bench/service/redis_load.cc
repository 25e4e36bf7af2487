#include "redis_load.h"

#include <hiredis.h>
#include <unistd.h>

#include <atomic>
#include <latch>
#include <memory>
#include <mutex>
#include <thread>
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
  const int n = static_cast<int>(conns.size());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0}, errors{0};
  std::vector<std::vector<double>> latencies(n);
  std::mutex error_mu;
  std::string first_error;
  std::latch start(n + 1);
  std::vector<std::thread> threads;
  for (int c = 0; c < n; ++c) {
    threads.emplace_back([&, c] {
      redisContext* conn = conns[c].get();
      start.arrive_and_wait();
      for (size_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const std::string& key = keys[c][i % keys[c].size()];
        const absl::Time t0 = absl::Now();
        absl::Status status;
        if (op == Op::kSet) {
          status = Set(conn, key, value);
        } else {
          auto got = Get(conn, key);
          status = got.status();
          if (got.ok() && *got != value.size()) status = absl::InternalError("redis: short GET");
        }
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
        if (!status.ok()) {
          errors.fetch_add(1);
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.empty()) first_error = status.ToString();
          if (conn->err) return;  // the connection is unusable
          continue;
        }
        latencies[c].push_back(ms);
        ops.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  start.arrive_and_wait();
  const absl::Time t_start = absl::Now();
  const absl::Time t_stop = t_start + config.duration;
  for (absl::Time now = absl::Now(); now < t_stop; now = absl::Now()) {
    absl::SleepFor(std::min(absl::Seconds(1), t_stop - now));
    if (config.progress) {
      const double s = absl::ToDoubleSeconds(absl::Now() - t_start);
      config.progress(absl::StrFormat("[redis %s] %5.1f s  %6d ops  %6.2f GB/s",
                                      op == Op::kSet ? "set" : "get", s, ops.load(),
                                      ops.load() * value.size() / s / 1e9));
    }
  }
  stop = true;
  for (auto& t : threads) t.join();
  cli::OpReport report;
  report.seconds = absl::ToDoubleSeconds(absl::Now() - t_start);
  report.ops = ops.load();
  report.errors = errors.load();
  report.first_error = first_error;
  report.raw_bytes = report.ops * value.size();
  report.wire_bytes = report.raw_bytes;
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  report.latency = cli::Summarize(all);
  return report;
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
