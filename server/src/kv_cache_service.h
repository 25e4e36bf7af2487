// The gearkv.v1.KVCache gRPC service (callback API). Put, Get, PutMany and GetMany are streaming
// reactors (put_reactor.h, get_reactor.h, put_many_reactor.h, get_many_reactor.h); Lookup, Delete
// and Stats are unary calls whose store access runs on the io pool. No handler blocks a gRPC
// thread: they check the request and hand work to a pool, or answer at once.
//
// Thread-safety: gRPC calls the handlers concurrently; all shared state is in ServiceCore.
#ifndef GEARKV_SERVER_SRC_KV_CACHE_SERVICE_H_
#define GEARKV_SERVER_SRC_KV_CACHE_SERVICE_H_

#include "gearkv/v1/kv_cache.grpc.pb.h"
#include "service_core.h"

namespace gearkv::server {

// Get and GetMany are registered raw (serialized messages in and out, see get_reactor.h); the
// wire contract is the same.
class KvCacheService final
    : public v1::KVCache::WithRawCallbackMethod_Get<
          v1::KVCache::WithRawCallbackMethod_GetMany<v1::KVCache::CallbackService>> {
 public:
  // `core` must outlive the service and every call.
  explicit KvCacheService(ServiceCore& core) : core_(core) {}

  grpc::ServerReadReactor<v1::PutRequest>* Put(grpc::CallbackServerContext* context,
                                               v1::PutResponse* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Get(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* request) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* GetMany(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request) override;
  grpc::ServerReadReactor<v1::PutManyRequest>* PutMany(grpc::CallbackServerContext* context,
                                                       v1::PutManyResponse* response) override;
  grpc::ServerUnaryReactor* Lookup(grpc::CallbackServerContext* context,
                                   const v1::LookupRequest* request,
                                   v1::LookupResponse* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context,
                                  const v1::StatsRequest* request,
                                  v1::StatsResponse* response) override;

 private:
  ServiceCore& core_;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_KV_CACHE_SERVICE_H_
