// A test codec for the service tests: wraps a real codec; Compress notifies `entered` (once) and
// then waits on `gate` when one is set, so that a test can hold a codec worker busy.
#ifndef GEARKV_SERVER_SRC_GATED_CODEC_H_
#define GEARKV_SERVER_SRC_GATED_CODEC_H_

#include <memory>
#include <string_view>
#include <utility>

#include "absl/synchronization/notification.h"
#include "gearkv/codec.h"

namespace gearkv::server {

class GatedCodec final : public Codec {
 public:
  explicit GatedCodec(std::unique_ptr<Codec> inner) : inner_(std::move(inner)) {}
  absl::StatusOr<Block> Compress(const TensorView& tensor, const CodecSpec& spec,
                                 const CompressOptions& options) const override {
    if (entered != nullptr && !entered->HasBeenNotified()) entered->Notify();
    if (gate != nullptr) gate->WaitForNotification();
    return inner_->Compress(tensor, spec, options);
  }
  absl::Status Decompress(std::string_view block, const MutableTensorView& out,
                          const DecompressOptions& options) const override {
    return inner_->Decompress(block, out, options);
  }
  Backend backend() const override { return inner_->backend(); }

  absl::Notification* entered = nullptr;
  absl::Notification* gate = nullptr;

 private:
  std::unique_ptr<Codec> inner_;
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_GATED_CODEC_H_
