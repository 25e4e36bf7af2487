#include "get_many_answer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "gearkv/get_many_messages.h"
#include "gearkv/status_macros.h"

namespace gearkv::client_internal {

GetManyAnswer::GetManyAnswer(const GetOptions& options,
                             const std::vector<TensorDestination>& destinations, const Codec& codec,
                             int decompress_threads)
    : options_(options),
      destinations_(destinations),
      codec_(codec),
      decompress_threads_(decompress_threads),
      results_(destinations.size()) {
  pending_.reserve(destinations.size());
  for (int i = 0; i < static_cast<int>(destinations.size()); ++i) pending_.push_back(i);
}

void GetManyAnswer::StartAttempt() {
  asked_ = pending_;
  current_ = -1;
  answer_.reset();
  current_failed_ = false;
}

absl::Status GetManyAnswer::Add(const grpc::ByteBuffer& message) {
  absl::StatusOr<wire::GetManyPart> part = wire::SplitGetManyMessage(message);
  if (!part.ok()) {
    return absl::InternalError(
        absl::StrCat("server sent a bad GetMany message: ", part.status().message()));
  }
  const int index = static_cast<int>(part->index);
  if (index != current_) {
    // The next key starts: only ever the one after the current, in the order asked.
    if (index != current_ + 1 || index >= static_cast<int>(asked_.size())) {
      return absl::InternalError(absl::StrCat("server sent a GetMany message for key index ", index,
                                              " after index ", current_, " (of ", asked_.size(),
                                              " keys asked, answered in order)"));
    }
    if (current_ >= 0) FinishCurrent();
    current_ = index;
    current_failed_ = false;
    if (!part->status.has_value()) {
      answer_ = std::make_unique<GetAnswer>(options_, destinations_[asked_[current_]]);
    }
  } else if (part->status.has_value()) {
    return absl::InternalError(
        absl::StrCat("server sent a status for key index ", index, " after its other messages"));
  }
  const int key = asked_[current_];
  if (part->status.has_value()) {
    if (part->status->ok()) {
      return absl::InternalError(
          absl::StrCat("server answered key index ", index, " with an OK status and no block"));
    }
    results_[key] = *part->status;
    current_failed_ = true;
    return absl::OkStatus();
  }
  if (current_failed_) return absl::OkStatus();  // the block cannot go where it was asked to
  absl::Status added = answer_->Add(part->get);
  if (absl::IsInvalidArgument(added)) {
    results_[key] = added;  // the destination's refusal: this key only
    answer_.reset();
    current_failed_ = true;
    return absl::OkStatus();
  }
  return added;
}

void GetManyAnswer::FinishCurrent() {
  const int key = asked_[current_];
  if (answer_ != nullptr) {
    results_[key] = answer_->Finish(codec_, decompress_threads_);
    answer_.reset();
  }
  current_failed_ = true;
}

absl::Status GetManyAnswer::EndAttempt() {
  if (current_ >= 0) FinishCurrent();
  const int answered = current_ + 1;
  std::vector<int> still;
  for (int key : pending_) {
    if (!results_[key].has_value()) still.push_back(key);
  }
  pending_ = std::move(still);
  if (answered != static_cast<int>(asked_.size())) {
    return absl::InternalError(absl::StrCat("server ended GetMany after answering ", answered,
                                            " of the ", asked_.size(), " keys asked"));
  }
  return absl::OkStatus();
}

void GetManyAnswer::AbortAttempt() {
  // The key in progress may be incomplete: it is asked again.
  if (current_ >= 0) {
    const int key = asked_[current_];
    if (answer_ != nullptr) results_[key].reset();
    answer_.reset();
  }
  std::vector<int> still;
  for (int key : pending_) {
    if (!results_[key].has_value()) still.push_back(key);
  }
  pending_ = std::move(still);
}

std::vector<absl::StatusOr<GetResult>> GetManyAnswer::TakeResults() {
  std::vector<absl::StatusOr<GetResult>> out;
  out.reserve(results_.size());
  for (auto& r : results_) {
    out.push_back(r.has_value() ? std::move(*r)
                                : absl::StatusOr<GetResult>(absl::InternalError("not answered")));
  }
  return out;
}

}  // namespace gearkv::client_internal
