// gearkv::Client — the C++ client of a gearkv server (the KVCache gRPC service; see
// proto/gearkv/v1/kv_cache.proto for the wire contract and its status codes).
//
//   gearkv::ClientOptions options;
//   options.target = "127.0.0.1:50051";
//   GEARKV_ASSIGN_OR_RETURN(auto client, gearkv::Client::Create(options));
//   gearkv::PutOptions put;
//   put.codec.preset = "gear4";
//   GEARKV_ASSIGN_OR_RETURN(auto stored, client->Put("llama3-8b/tenant1", key, view, put));
//   GEARKV_ASSIGN_OR_RETURN(auto got, client->Get("llama3-8b/tenant1", key));  // decompressed
//
// Retry policy (the Python client, client/python/gearkv/retry.py, follows the same one):
//   - Every call has one deadline, its own or else ClientOptions::default_deadline, that covers
//     all of its attempts: each attempt runs under what is left of it, and the call gives up
//     rather than sleep past it. A timeout is the whole call's, never an attempt's.
//   - Only UNAVAILABLE (a server draining or unreachable) is retried, and RESOURCE_EXHAUSTED
//     when retry_resource_exhausted is set; every call is idempotent (a Put repeated leaves one
//     block), Health is never retried.
//   - At most max_attempts attempts (5), counting the first. Between them the client sleeps
//     initial_backoff (50 ms), multiplied by backoff_multiplier (2) after each attempt and
//     capped at max_backoff (2 s), each sleep drawn uniformly from [d/2, d] so that clients that
//     fail together spread out.
//   - A failure after retries keeps the last attempt's code; its message ends with
//     "(after N attempts)".
// A streaming call that fails part way is retried from its start (Put sends the tensor again,
// Get receives it again).
//
// The batched calls (GetMany, GetManyInto, PutMany) move many blocks of one namespace in one
// call, at most LIMIT_MAX_BATCH_KEYS (4096) of them. Each block has its own result (a
// StatusOr), in the order asked: a missing key is that key's NOT_FOUND, a corrupt block its
// DATA_LOSS, and the others are answered. The outer status is the call's: INVALID_ARGUMENT for
// a bad batch, or the server's status when the call itself failed. Retries follow the policy
// above, one deadline for the whole batch; a GetMany attempt that fails part way is retried for
// the keys not answered yet only, a PutMany is retried whole (the server answers its blocks at
// the end; storing a block again is harmless). Progress callbacks are not called by GetMany;
// PutMany's counts the batch's bytes.
//
// Errors are the server's status (code and message) as absl::Status; client-side problems (a
// bad argument, a malformed answer) are INVALID_ARGUMENT / INTERNAL naming the problem.
//
// Put streams the tensor in chunks of at most 1 MiB (the contract's LIMIT_MAX_CHUNK_BYTES). Get
// asks for COMPRESSED block bytes by default (what saves network bandwidth) and decompresses them
// here with the CPU codec; RAW makes the server decompress. Get allocates a Tensor per call;
// GetInto writes into memory the caller owns and reuses (an engine's KV cache) instead, which saves
// zero-filling and faulting in fresh pages on every call — what `gearkv bench` does in its get
// phase (each client gets into one buffer allocated once), except with --no_decompress.
//
// Layouts (gearkv/layout.h): Put sends the view's bytes in view.layout, Get returns its tensor in
// GetOptions::layout, GetInto writes in out.layout; the codec reads and writes those orders
// directly (here for COMPRESSED, on the server for RAW), so an engine keeps its own KV order.
//
// Thread-safety: a Client is safe to use from many threads at once; calls on one Client share
// one HTTP/2 connection. For independent connections (benchmarks) create several Clients with
// ClientOptions::own_connection.
#ifndef GEARKV_CLIENT_H_
#define GEARKV_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "gearkv/block_cost.h"  // BlockCost: what a stored block costs (wire BlockStats)
#include "gearkv/codec.h"
#include "gearkv/tensor.h"
#include "gearkv/tensor_file.h"

namespace gearkv {

struct ClientOptions {
  std::string target = "127.0.0.1:50051";  // gRPC target ("host:port", "unix:/path", ...)
  // The retry policy (see the top of this file).
  absl::Duration default_deadline = absl::Seconds(60);  // of a call, all attempts included
  int max_attempts = 5;                                 // per call, counting the first
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(2);
  double backoff_multiplier = 2.0;
  // Also retry RESOURCE_EXHAUSTED (the server's worker pool saturated). Off by default: the
  // same code also means "over the budget or the size limit", which retrying cannot fix.
  bool retry_resource_exhausted = false;
  size_t chunk_bytes = 0;       // Put chunk size, at most 1 MiB; 0 = 1 MiB
  std::string auth_token;       // when set, sent as "authorization: Bearer <token>"
  bool own_connection = false;  // a TCP connection not shared with other Clients
  // Threads per client-side decompression; 0 = every hardware thread (the calling thread and
  // the codec's pool of helpers, shared by all calls in the process: a 1 MiB gear4 Get on two
  // cores is ~15% faster with two than with one).
  int decompress_threads = 0;
};

// How to compress a Put: a preset (empty = the server's default) and optional overrides of
// its parameters (see CodecSpec in codec.h for their ranges).
struct CodecRequest {
  std::string preset;
  std::optional<uint32_t> bits;
  std::optional<uint32_t> group_size;
  std::optional<uint32_t> rank;
  std::optional<float> outlier_ratio;
  std::optional<uint32_t> power_iterations;
  std::optional<uint32_t> seed;
};

// Called after each chunk of a transfer with the payload bytes moved so far and the total (for
// progress displays). Runs on the calling thread; restarts from 0 when a call is retried.
using ProgressCallback = std::function<void(uint64_t done, uint64_t total)>;

struct PutOptions {
  CodecRequest codec;
  absl::Duration ttl = absl::ZeroDuration();  // zero = no expiry; whole seconds are sent
  bool measure_error = false;                 // ask the server for the relative error
  std::optional<absl::Duration> deadline;
  ProgressCallback progress;
};

struct PutResult {
  BlockCost cost;
  CodecSpec spec;           // as resolved by the server
  std::string preset;       // the preset equal to `spec`, "" when the overrides changed it
  std::string backend;      // "cpu" or "cuda"
  uint64_t wire_bytes = 0;  // tensor bytes sent
};

enum class GetEncoding { kRaw, kCompressed };

struct GetOptions {
  GetEncoding encoding = GetEncoding::kCompressed;
  // Layers [begin, end) only; unset = all.
  std::optional<std::pair<uint32_t, uint32_t>> layers;
  // kCompressed only: false leaves the block bytes in GetResult::block and `tensor` empty.
  bool decompress = true;
  // Element type of GetResult::tensor; unset = the stored dtype. kCompressed converts while
  // decompressing; kRaw requires the stored dtype.
  std::optional<DType> out_dtype;
  // Memory order of GetResult::tensor's bytes (gearkv/layout.h): kRaw has the server decode
  // into it, kCompressed decodes the (canonical) block into it here; either way no extra copy.
  // GetInto takes out.layout instead (this must then be kCanonical or equal to it).
  Layout layout = Layout::kCanonical;
  std::optional<absl::Duration> deadline;
  ProgressCallback progress;
};

struct GetResult {
  // dims [layers, 2, kv_heads, tokens, head_dim] (the TensorShape, whatever the layout), its
  // bytes in `layout`; empty when not decompressed.
  Tensor tensor;
  Layout layout = Layout::kCanonical;  // of `tensor` (GetOptions::layout; GetInto: out.layout)
  std::string block;                   // the compressed block, when kCompressed and !decompress
  TensorShape shape;                   // of what was asked (layer range applied)
  DType stored_dtype = DType::kFloat16;
  CodecSpec spec;
  std::string preset;
  BlockCost cost;  // of the whole stored block
  GetEncoding encoding = GetEncoding::kCompressed;
  uint64_t wire_bytes = 0;  // payload bytes received
};

struct LookupResult {
  std::vector<bool> exists;  // one per key asked
  uint32_t prefix_hits = 0;  // run of existing keys from the first
};

struct ServerTierStats {
  std::string tier;
  uint64_t blocks = 0;
  uint64_t bytes = 0;
  uint64_t capacity_bytes = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t expirations = 0;
};

struct ServerStats {
  std::vector<ServerTierStats> tiers;
  std::string backend;
  std::string version;
};

// grpc.health.v1 serving status.
enum class HealthState { kUnknown, kServing, kNotServing, kServiceUnknown };
std::string_view HealthStateName(HealthState state);  // "SERVING", "NOT_SERVING", ...

struct CallOptions {
  std::optional<absl::Duration> deadline;
};

class Client {
 public:
  // Connects lazily (the first call dials). INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<Client>> Create(const ClientOptions& options);
  virtual ~Client() = default;

  // Stores `tensor` under (ns, key), replacing any block there. tensor.layout says in which
  // memory order its bytes are sent (the server compresses them as they lie; the stored block
  // does not depend on it).
  [[nodiscard]] virtual absl::StatusOr<PutResult> Put(std::string_view ns, std::string_view key,
                                                      const TensorView& tensor,
                                                      const PutOptions& options = {}) = 0;
  // The block under (ns, key); NOT_FOUND when absent or expired.
  [[nodiscard]] virtual absl::StatusOr<GetResult> Get(std::string_view ns, std::string_view key,
                                                      const GetOptions& options = {}) = 0;
  // The block under (ns, key) written into `out`, memory the caller owns: kCompressed
  // decompresses here into it, kRaw copies the server's bytes into it as they arrive; no tensor
  // is allocated. out.shape must equal the stored shape with options.layers applied, and for kRaw
  // out.dtype the stored dtype (kCompressed converts to out.dtype); otherwise INVALID_ARGUMENT
  // naming both (checked when the answer's header arrives; the call is then cancelled).
  // options.decompress must be true and options.out_dtype unset or equal to out.dtype; a null
  // out.data is INVALID_ARGUMENT before any RPC. The tensor lands in out.layout. GetResult::tensor
  // and ::block stay empty; the rest (shape, dtype, spec, cost, wire_bytes) is filled. On an error
  // `out` may be partly written (also by an attempt that is retried).
  [[nodiscard]] virtual absl::StatusOr<GetResult> GetInto(std::string_view ns, std::string_view key,
                                                          const MutableTensorView& out,
                                                          const GetOptions& options = {}) = 0;
  // The blocks under `keys` of `ns`, each as Get(ns, keys[i], options) would answer it (the
  // layer range, encoding and dtype apply to every key), in one call. options.progress is not
  // called. The outer status is the call's (see the top of this file).
  [[nodiscard]] virtual absl::StatusOr<std::vector<absl::StatusOr<GetResult>>> GetMany(
      std::string_view ns, absl::Span<const std::string> keys, const GetOptions& options = {}) = 0;
  // The same, each block written into outs[i] as GetInto(ns, keys[i], outs[i], options) would
  // (its checks; a block that does not fit its out is that key's INVALID_ARGUMENT).
  // outs.size() must equal keys.size().
  [[nodiscard]] virtual absl::StatusOr<std::vector<absl::StatusOr<GetResult>>> GetManyInto(
      std::string_view ns, absl::Span<const std::string> keys,
      absl::Span<const MutableTensorView> outs, const GetOptions& options = {}) = 0;
  // Stores tensors[i] under keys[i] of `ns` for every i, with the same options, in one call;
  // one result per block, each stored or not as a whole (a block refused by the server, e.g.
  // for its shape, is its own error; the others are stored). tensors.size() must equal
  // keys.size().
  [[nodiscard]] virtual absl::StatusOr<std::vector<absl::StatusOr<PutResult>>> PutMany(
      std::string_view ns, absl::Span<const std::string> keys, absl::Span<const TensorView> tensors,
      const PutOptions& options = {}) = 0;
  // Which of `keys` (in prefix order) exist, and the length of the contiguous prefix hit.
  [[nodiscard]] virtual absl::StatusOr<LookupResult> Lookup(std::string_view ns,
                                                            absl::Span<const std::string> keys,
                                                            const CallOptions& options = {}) = 0;
  // Whether a block was there to delete.
  [[nodiscard]] virtual absl::StatusOr<bool> Delete(std::string_view ns, std::string_view key,
                                                    const CallOptions& options = {}) = 0;
  [[nodiscard]] virtual absl::StatusOr<ServerStats> Stats(const CallOptions& options = {}) = 0;
  // The grpc.health.v1 status of `service` ("" = the whole server). Not retried.
  [[nodiscard]] virtual absl::StatusOr<HealthState> Health(std::string_view service = "",
                                                           const CallOptions& options = {}) = 0;

  virtual const ClientOptions& options() const = 0;
};

}  // namespace gearkv

#endif  // GEARKV_CLIENT_H_
