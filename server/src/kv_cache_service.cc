#include "kv_cache_service.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gearkv/base/strings.h"
#include "gearkv/status_macros.h"
#include "gearkv/version.h"
#include "gearkv/wire_limits.h"
#include "get_many_reactor.h"
#include "get_reactor.h"
#include "put_many_reactor.h"
#include "put_reactor.h"

namespace gearkv::server {
namespace {

using wire::kMaxLookupKeys;
using wire::kMaxNamespaceBytes;
using wire::ValidateBlockKey;

absl::Status ValidateLookup(const v1::LookupRequest& request) {
  if (request.namespace_().size() > kMaxNamespaceBytes) {
    return absl::InvalidArgumentError(absl::StrCat("namespace of ", request.namespace_().size(),
                                                   " bytes is too long (at most ",
                                                   kMaxNamespaceBytes, ")"));
  }
  if (request.keys_size() > kMaxLookupKeys) {
    return absl::InvalidArgumentError(absl::StrCat("Lookup of ", request.keys_size(),
                                                   " keys is over the limit of ", kMaxLookupKeys));
  }
  for (int i = 0; i < request.keys_size(); ++i) {
    absl::Status status = ValidateBlockKey(request.namespace_(), request.keys(i));
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("keys[", i, "]: ", status.message()));
    }
  }
  return absl::OkStatus();
}

// Runs `work` (which returns the call's status) on the io pool and finishes the call with it;
// answers at once when the server is draining or the pool is saturated.
template <typename Work>
grpc::ServerUnaryReactor* RunUnary(ServiceCore& core, grpc::CallbackServerContext* context,
                                   std::string_view method, absl::Status precheck, Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start = absl::Now();
  core.observer->OnRpcStarted(method);
  if (precheck.ok()) precheck = core.CheckCall(*context);
  if (!precheck.ok()) {
    FinishUnary(core, reactor, method, start, precheck);
    return reactor;
  }
  absl::Status submitted = core.Submit(
      *core.io_pool, [&core, context, reactor, method, start, work = std::move(work)]() mutable {
        if (absl::Status wanted = CheckCallWanted(*context, method); !wanted.ok()) {
          FinishUnary(core, reactor, method, start, wanted);
          return;
        }
        FinishUnary(core, reactor, method, start, work());
      });
  if (!submitted.ok()) FinishUnary(core, reactor, method, start, submitted);
  return reactor;
}

}  // namespace

grpc::ServerReadReactor<v1::PutRequest>* KvCacheService::Put(grpc::CallbackServerContext* context,
                                                             v1::PutResponse* response) {
  return new PutReactor(core_, context, response);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* KvCacheService::Get(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return new GetReactor(core_, context, *request);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* KvCacheService::GetMany(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return new GetManyReactor(core_, context, *request);
}

grpc::ServerReadReactor<v1::PutManyRequest>* KvCacheService::PutMany(
    grpc::CallbackServerContext* context, v1::PutManyResponse* response) {
  return new PutManyReactor(core_, context, response);
}

grpc::ServerUnaryReactor* KvCacheService::Lookup(grpc::CallbackServerContext* context,
                                                 const v1::LookupRequest* request,
                                                 v1::LookupResponse* response) {
  return RunUnary(core_, context, "Lookup", ValidateLookup(*request), [this, request, response] {
    store::BlockKey key{request->namespace_(), ""};
    bool prefix = true;
    uint32_t prefix_hits = 0;
    for (const std::string& k : request->keys()) {
      key.key = k;
      const bool exists = core_.store->Contains(key);
      response->add_exists(exists);
      prefix = prefix && exists;
      if (prefix) ++prefix_hits;
    }
    response->set_prefix_hits(prefix_hits);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* KvCacheService::Delete(grpc::CallbackServerContext* context,
                                                 const v1::DeleteRequest* request,
                                                 v1::DeleteResponse* response) {
  return RunUnary(core_, context, "Delete", ValidateBlockKey(request->namespace_(), request->key()),
                  [this, request, response]() -> absl::Status {
                    GEARKV_ASSIGN_OR_RETURN(
                        const bool deleted,
                        core_.store->Delete({request->namespace_(), request->key()}));
                    response->set_deleted(deleted);
                    return absl::OkStatus();
                  });
}

grpc::ServerUnaryReactor* KvCacheService::Stats(grpc::CallbackServerContext* context,
                                                const v1::StatsRequest* request,
                                                v1::StatsResponse* response) {
  return RunUnary(core_, context, "Stats", absl::OkStatus(), [this, response] {
    for (const store::TierStats& tier : core_.store->Stats()) {
      v1::TierStats* out = response->add_tiers();
      out->set_tier(tier.tier);
      out->set_blocks(tier.blocks);
      out->set_bytes(tier.bytes);
      out->set_capacity_bytes(tier.capacity_bytes);
      out->set_hits(tier.hits);
      out->set_misses(tier.misses);
      out->set_evictions(tier.evictions);
      out->set_expirations(tier.expirations);
    }
    response->set_backend(std::string(BackendName(core_.codec->backend())));
    response->set_version(kVersion);
    return absl::OkStatus();
  });
}

}  // namespace gearkv::server
