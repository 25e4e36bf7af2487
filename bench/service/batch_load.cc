#include "batch_load.h"

#include <hiredis.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gearkv/status_macros.h"
#include "gearkv/tensor_file.h"
#include "random_tensor.h"

namespace gearkv::bench {
namespace {

std::string RunId() { return absl::StrCat(::getpid(), "-", absl::ToUnixMicros(absl::Now())); }

// Each client's keys: "<prefix>-<run>-<client>-<block>".
std::vector<std::vector<std::string>> Keys(const BatchLoadConfig& config,
                                           const std::string& prefix) {
  const std::string run = RunId();
  std::vector<std::vector<std::string>> keys(config.clients);
  for (int c = 0; c < config.clients; ++c) {
    for (int b = 0; b < config.blocks; ++b) {
      keys[c].push_back(absl::StrCat(prefix, "-", run, "-", c, "-", b));
    }
  }
  return keys;
}

// The first failed result of a batch, or OK.
template <typename T>
absl::Status FirstError(const absl::StatusOr<std::vector<absl::StatusOr<T>>>& results) {
  if (!results.ok()) return results.status();
  for (const absl::StatusOr<T>& r : *results) {
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BatchLoadReport> RunGearkvBatchLoad(const BatchLoadConfig& config,
                                                   const std::string& target,
                                                   const CodecRequest& codec) {
  GEARKV_RETURN_IF_ERROR(ValidateShape(config.shape));
  const Tensor tensor = cli::GaussianKvTensor(config.shape, config.dtype, config.seed);
  const TensorView view{config.shape, config.dtype, tensor.data.data()};
  const std::vector<TensorView> views(config.blocks, view);
  const std::vector<std::vector<std::string>> keys = Keys(config, "batch-bench");
  const std::string ns = "gearkv-batch-bench";
  std::vector<std::unique_ptr<Client>> clients;
  for (int c = 0; c < config.clients; ++c) {
    ClientOptions options;
    options.target = target;
    options.own_connection = true;
    GEARKV_ASSIGN_OR_RETURN(clients.emplace_back(), Client::Create(options));
  }
  PutOptions put;
  put.codec = codec;
  BatchLoadReport report;
  report.block_bytes = tensor.data.size();
  // One batch first, for the stored size (and so that a broken server fails here).
  const auto first = clients[0]->PutMany(ns, keys[0], views, put);
  GEARKV_RETURN_IF_ERROR(FirstError(first));
  report.stored_bytes = (*first)[0]->cost.stored_bytes;

  cli::TimedLoad load;
  load.clients = config.clients;
  load.duration = config.duration;
  load.raw_bytes_per_op = report.block_bytes * config.blocks;
  load.progress = config.progress;
  load.name = "gearkv put-many";
  report.put = cli::RunTimedLoad(load, [&](int c, uint64_t) {
    cli::OpOutcome outcome;
    auto results = clients[c]->PutMany(ns, keys[c], views, put);
    outcome.status = FirstError(results);
    outcome.wire_bytes = load.raw_bytes_per_op;
    return outcome;
  });

  // Every client's buffers, allocated and touched once before the phase.
  std::vector<std::vector<Tensor>> buffers(config.clients);
  std::vector<std::vector<MutableTensorView>> outs(config.clients);
  for (int c = 0; c < config.clients; ++c) {
    for (int b = 0; b < config.blocks; ++b) {
      buffers[c].push_back(MakeKvTensor(config.shape, config.dtype));
      outs[c].push_back({config.shape, config.dtype, buffers[c].back().data.data()});
    }
  }
  GetOptions get;
  get.encoding = GetEncoding::kCompressed;
  load.name = "gearkv get-many";
  report.get = cli::RunTimedLoad(load, [&](int c, uint64_t) {
    cli::OpOutcome outcome;
    auto results = clients[c]->GetManyInto(ns, keys[c], outs[c], get);
    outcome.status = FirstError(results);
    if (outcome.status.ok()) {
      for (const auto& r : *results) outcome.wire_bytes += r->wire_bytes;
    }
    return outcome;
  });
  for (int c = 0; c < config.clients; ++c) {
    for (const std::string& key : keys[c]) (void)clients[c]->Delete(ns, key);
  }
  return report;
}

namespace {

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// SET `value` (when given) or GET under every key: every command appended, then every reply
// read. The first failure; a GET must return `expect_len` bytes.
absl::Status Pipeline(redisContext* c, const std::vector<std::string>& keys,
                      const std::string* value, uint64_t expect_len) {
  for (const std::string& key : keys) {
    const int appended = value != nullptr
                             ? redisAppendCommand(c, "SET %b %b", key.data(), key.size(),
                                                  value->data(), value->size())
                             : redisAppendCommand(c, "GET %b", key.data(), key.size());
    if (appended != REDIS_OK) return absl::UnavailableError(absl::StrCat("redis: ", c->errstr));
  }
  absl::Status first;
  for (size_t i = 0; i < keys.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK) {
      return absl::UnavailableError(absl::StrCat("redis: ", c->errstr));
    }
    Reply r(static_cast<redisReply*>(raw));
    if (!first.ok()) continue;
    if (r->type == REDIS_REPLY_ERROR) {
      first = absl::InternalError(absl::StrCat("redis: ", r->str));
    } else if (value == nullptr &&
               (r->type != REDIS_REPLY_STRING || static_cast<uint64_t>(r->len) != expect_len)) {
      first = absl::InternalError("redis: GET of a missing or short value");
    }
  }
  return first;
}

}  // namespace

absl::StatusOr<BatchLoadReport> RunRedisBatchLoad(const BatchLoadConfig& config,
                                                  const std::string& host, int port) {
  GEARKV_RETURN_IF_ERROR(ValidateShape(config.shape));
  const Tensor tensor = cli::GaussianKvTensor(config.shape, config.dtype, config.seed);
  const std::string& value = tensor.data;
  const std::vector<std::vector<std::string>> keys = Keys(config, "redis-batch-bench");
  std::vector<std::unique_ptr<redisContext, ContextDeleter>> conns;
  for (int c = 0; c < config.clients; ++c) {
    conns.emplace_back(redisConnect(host.c_str(), port));
    if (conns.back() == nullptr || conns.back()->err) {
      return absl::UnavailableError(absl::StrCat("redis ", host, ":", port, ": cannot connect"));
    }
  }
  BatchLoadReport report;
  report.block_bytes = value.size();
  for (int c = 0; c < config.clients; ++c) {
    GEARKV_RETURN_IF_ERROR(Pipeline(conns[c].get(), keys[c], &value, 0));
  }
  cli::TimedLoad load;
  load.clients = config.clients;
  load.duration = config.duration;
  load.raw_bytes_per_op = value.size() * config.blocks;
  load.progress = config.progress;
  auto phase = [&](bool set) {
    load.name = set ? "redis pipelined set" : "redis pipelined get";
    return cli::RunTimedLoad(load, [&](int c, uint64_t) {
      cli::OpOutcome outcome;
      outcome.status = Pipeline(conns[c].get(), keys[c], set ? &value : nullptr, value.size());
      outcome.wire_bytes = load.raw_bytes_per_op;
      outcome.client_broken = conns[c]->err != 0;
      return outcome;
    });
  };
  report.put = phase(true);
  report.get = phase(false);
  for (int c = 0; c < config.clients; ++c) {
    for (const std::string& key : keys[c]) {
      Reply(
          static_cast<redisReply*>(redisCommand(conns[c].get(), "DEL %b", key.data(), key.size())));
    }
  }
  return report;
}

}  // namespace gearkv::bench
