// The client's side of a GetMany, across its attempts and without gRPC: which keys are still to
// be asked, and each key's messages handed to a GetAnswer (get_answer.h) of its own, exactly as
// a Get's are. GrpcClient::GetMany feeds it the messages of its streams; the tests feed it
// messages made with gearkv/get_many_messages.h.
//
// A retried attempt asks only for the keys not answered yet (a key whose answer was cut off by
// the failure is asked again). A key's own status from the server, and a block that cannot go to
// its destination (GetManyInto's shape or dtype mismatch, INVALID_ARGUMENT), is that key's
// result; the other keys go on. Internal to gearkv_client. Not thread-safe.
#ifndef GEARKV_CLIENT_SRC_GET_MANY_ANSWER_H_
#define GEARKV_CLIENT_SRC_GET_MANY_ANSWER_H_

#include <grpcpp/support/byte_buffer.h>

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gearkv/client.h"
#include "gearkv/codec.h"
#include "get_answer.h"

namespace gearkv::client_internal {

class GetManyAnswer {
 public:
  // One destination per key of the batch; `options`, `destinations` and `codec` outlive the
  // answer. GetAnswer::Finish decodes with `codec` on `decompress_threads`.
  GetManyAnswer(const GetOptions& options, const std::vector<TensorDestination>& destinations,
                const Codec& codec, int decompress_threads);

  // The keys not answered yet, as indices into the batch, in order. StartAttempt asks for them.
  const std::vector<int>& pending() const { return pending_; }
  bool done() const { return pending_.empty(); }

  // A new attempt, asking for pending() (its message index i is pending()[i]).
  void StartAttempt();
  // The next message of the attempt's stream. An error is the call's (INTERNAL: the server broke
  // the protocol): the call must be cancelled.
  absl::Status Add(const grpc::ByteBuffer& message);
  // The attempt's stream ended with OK: finishes its last key. INTERNAL when a key asked was
  // not answered.
  absl::Status EndAttempt();
  // The attempt's stream failed: the keys it answered stay answered, the one in progress is not.
  void AbortAttempt();

  // One result per key of the batch, in order; call once every key is answered.
  std::vector<absl::StatusOr<GetResult>> TakeResults();

 private:
  // The key in progress (current_) is complete: its result is recorded.
  void FinishCurrent();

  const GetOptions& options_;
  const std::vector<TensorDestination>& destinations_;
  const Codec& codec_;
  const int decompress_threads_;
  std::vector<std::optional<absl::StatusOr<GetResult>>> results_;
  std::vector<int> pending_;

  // The attempt in progress.
  std::vector<int> asked_;             // pending_ when it started
  int current_ = -1;                   // index into asked_ of the key being received; -1 before any
  std::unique_ptr<GetAnswer> answer_;  // its Get answer; null once it has a result
  bool current_failed_ = false;        // its result is set already; its messages are skipped
};

}  // namespace gearkv::client_internal

#endif  // GEARKV_CLIENT_SRC_GET_MANY_ANSWER_H_
