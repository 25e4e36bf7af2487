#include "put_many_reactor.h"

#include <grpcpp/server_context.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gearkv/get_many_messages.h"
#include "gearkv/status_macros.h"
#include "gearkv/wire_limits.h"
#include "gearkv/wire_status.h"

namespace gearkv::server {
namespace {

using wire::kMaxBatchKeys;
using wire::ToGrpcStatus;

constexpr std::string_view kMethod = "PutMany";

absl::Status Prefixed(int index, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("block ", index, ": ", status.message()));
}

}  // namespace

PutManyReactor::PutManyReactor(ServiceCore& core, grpc::CallbackServerContext* context,
                               v1::PutManyResponse* response)
    : core_(core), context_(context), response_(response), start_(absl::Now()) {
  core_.observer->OnRpcStarted(kMethod);
  Actions actions;
  if (absl::Status serving = core_.CheckCall(*context_); !serving.ok()) {
    MutexLock lock(&mu_);
    EndWith(serving, actions);
  } else {
    actions.read = true;
  }
  Perform(actions);
}

void PutManyReactor::Perform(const Actions& actions) {
  if (actions.finish.has_value()) {
    Finish(*actions.finish);
  } else if (actions.read) {
    StartRead(&request_);
  }
}

void PutManyReactor::OnReadDone(bool ok) {
  Actions actions;
  {
    MutexLock lock(&mu_);
    if (!ok) {
      // The client half-closed (sent everything) or the call broke (cancel, deadline).
      if (context_->IsCancelled()) {
        EndWith(absl::CancelledError(
                    "PutMany cancelled; the blocks stored before stay, the one being received is "
                    "not"),
                actions);
      } else if (receiving_ != nullptr) {
        EndWith(Prefixed(blocks_ - 1, receiving_->CheckComplete()), actions);
      } else {
        EndWith(absl::OkStatus(), actions);
      }
    } else if (absl::StatusOr<bool> go_on = Accept(request_); !go_on.ok()) {
      EndWith(go_on.status(), actions);
    } else {
      request_.Clear();
      actions.read = *go_on;
    }
  }
  Perform(actions);
}

absl::StatusOr<bool> PutManyReactor::Accept(v1::PutManyRequest& message) {
  switch (message.msg_case()) {
    case v1::PutManyRequest::kHeader:
      GEARKV_RETURN_IF_ERROR(AcceptHeader(message.header()));
      return true;
    case v1::PutManyRequest::kChunk:
      break;
    case v1::PutManyRequest::MSG_NOT_SET:
      return absl::InvalidArgumentError("PutManyRequest with neither header nor chunk");
  }
  const std::string& chunk = message.chunk();
  if (blocks_ == 0) {
    return absl::InvalidArgumentError(
        "missing header: the first message of a PutMany must be a header");
  }
  const int index = blocks_ - 1;
  if (skipping_) return true;  // the block's header was refused: its result says why
  if (receiving_ == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("block ", index,
                     ": more bytes than the header declares (a chunk after its "
                     "last byte, before the next header)"));
  }
  if (absl::Status accepted = receiving_->AcceptChunk(chunk); !accepted.ok()) {
    return Prefixed(index, accepted);
  }
  bytes_in_ += chunk.size();
  if (!receiving_->complete()) return true;
  return HandOff(Ready{std::move(receiving_), index});
}

absl::Status PutManyReactor::AcceptHeader(const v1::PutHeader& header) {
  if (receiving_ != nullptr) {
    return Prefixed(blocks_ - 1,
                    absl::InvalidArgumentError(absl::StrCat(
                        "the next header came after ", receiving_->received_bytes(), " of its ",
                        receiving_->expected_bytes(), " bytes (fewer than the header declares)")));
  }
  if (blocks_ >= kMaxBatchKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("PutMany of more than ", kMaxBatchKeys, " blocks (LIMIT_MAX_BATCH_KEYS)"));
  }
  const int index = blocks_++;
  response_->add_results();
  auto block = std::make_unique<PutBlock>(core_);
  if (absl::Status accepted = block->AcceptHeader(header); !accepted.ok()) {
    skipping_ = true;
    SetResult(index, accepted, nullptr, *block);
    return absl::OkStatus();
  }
  skipping_ = false;
  receiving_ = std::move(block);
  return absl::OkStatus();
}

bool PutManyReactor::HandOff(Ready ready) {
  if (storing_) {
    parked_ = std::move(ready);
    return false;  // Store resumes reading
  }
  Submit(std::move(ready));
  return true;
}

void PutManyReactor::Submit(Ready ready) {
  const int index = ready.index;
  PutBlock* const block = ready.block.get();
  storing_ = true;
  // std::function needs a copyable task.
  auto shared = std::make_shared<Ready>(std::move(ready));
  absl::Status submitted =
      core_.Submit(*core_.codec_pool, [this, shared] { Store(std::move(*shared)); });
  if (!submitted.ok()) {
    storing_ = false;
    SetResult(index, submitted, nullptr, *block);
  }
}

void PutManyReactor::Store(Ready ready) {
  v1::PutResponse stored;
  absl::Status status = ready.block->CompressAndStore(*context_, kMethod, &stored);
  Actions actions;
  {
    MutexLock lock(&mu_);
    StoreDone(std::move(ready), status, stored, actions);
  }
  Perform(actions);
}

void PutManyReactor::StoreDone(Ready ready, const absl::Status& status, v1::PutResponse& stored,
                               Actions& actions) {
  if (status.ok()) {
    raw_stored_ += ready.block->expected_bytes();
    block_bytes_ += ready.block->block_bytes();
  }
  SetResult(ready.index, status, &stored, *ready.block);
  ready.block.reset();  // its buffer and budget go back
  storing_ = false;
  if (parked_.has_value()) {
    Ready next = std::move(*parked_);
    parked_.reset();
    Submit(std::move(next));
    actions.read = !end_.has_value();  // reading paused while the block was parked
  }
  MaybeFinish(actions);
}

void PutManyReactor::SetResult(int index, const absl::Status& status, v1::PutResponse* stored,
                               const PutBlock& block) {
  v1::PutManyResult* result = response_->mutable_results(index);
  *result->mutable_status() = wire::KeyStatusToWire(status);
  if (status.ok() && stored != nullptr) *result->mutable_stored() = std::move(*stored);
  BatchKeyRecord record;
  record.method = kMethod;
  record.code = status.code();
  record.bytes_in = block.received_bytes();
  if (status.ok()) {
    record.raw_bytes = block.expected_bytes();
    record.block_bytes = block.block_bytes();
    record.preset = block.preset();
    record.relative_error = block.relative_error();
  }
  core_.observer->OnBatchKeyDone(record);
}

void PutManyReactor::EndWith(const absl::Status& status, Actions& actions) {
  if (!end_.has_value()) end_ = status;
  if (!end_->ok()) {
    receiving_.reset();  // never stored
    parked_.reset();
  }
  MaybeFinish(actions);
}

void PutManyReactor::MaybeFinish(Actions& actions) {
  if (finished_ || !end_.has_value() || storing_) return;
  finished_ = true;
  code_ = end_->code();
  actions.finish = ToGrpcStatus(*end_);
}

void PutManyReactor::OnDone() {
  RpcRecord record;
  {
    MutexLock lock(&mu_);
    record.method = kMethod;
    record.code = code_;
    if (code_ == absl::StatusCode::kOk && context_->IsCancelled()) {
      record.code = absl::StatusCode::kCancelled;
    }
    record.latency = absl::Now() - start_;
    record.bytes_in = bytes_in_;
    record.raw_bytes = raw_stored_;
    record.block_bytes = block_bytes_;
    record.batch_blocks = static_cast<uint32_t>(blocks_);
    receiving_.reset();
    parked_.reset();
  }
  core_.observer->OnRpcDone(record);
  delete this;
}

}  // namespace gearkv::server
