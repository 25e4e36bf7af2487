// GEAR on data that already lies in device memory: the layer between the kernels
// (gear_launch.h, cudaError_t) and their users — the Codec adapter (cuda_codec.cc), the GPU
// benchmark, a server's pool of streams — which work with absl::Status.
//
// A DeviceGear compresses a tensor in device memory, in any Layout, into the sections of a block
// in device memory (the header, section table and checksum are written on the host with
// block_format.h), and decompresses such sections back into a tensor in device memory, in any
// Layout: the kernels read and write each head at its row stride (tensor_layout.h).
//
// Thread-safety: a DeviceGear is not thread-safe and keeps per-call state between an Enqueue*
// and its Finish; give every stream (worker) its own, and use one stream per DeviceGear.
#ifndef GEARKV_KERNELS_CUDA_DEVICE_GEAR_H_
#define GEARKV_KERNELS_CUDA_DEVICE_GEAR_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "block_format.h"
#include "gear_launch.h"

namespace gearkv::internal::cuda {

// OK for cudaSuccess; otherwise RESOURCE_EXHAUSTED for an allocation failure and INTERNAL for
// anything else, the message naming `what` and the CUDA error.
absl::Status CudaStatus(cudaError_t err, std::string_view what);

// Device memory (cudaMalloc), freed on destruction. Move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // Makes the buffer at least `bytes` long; a reallocation loses the contents (and, through
  // cudaFree, waits for the device).
  absl::Status Reserve(size_t bytes);
  void* data() const { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

class DeviceGear {
 public:
  // Binds to `device` (the current device for every later call) and reads its properties.
  static absl::StatusOr<std::unique_ptr<DeviceGear>> Create(int device);
  DeviceGear(const DeviceGear&) = delete;
  DeviceGear& operator=(const DeviceGear&) = delete;

  // Enqueues on `stream` the compression of `in` (the tensor g.info.shape of g.info.dtype in
  // `layout`, device memory, 16-byte aligned) into bytes [g.data_offset, g.checksum_offset) of
  // `block` (device memory, 16-byte aligned, at least g.info.block_bytes). Errors here are
  // launch errors (INVALID_ARGUMENT for a layout outside the enum); what the kernels find is
  // reported by Finish.
  absl::Status EnqueueCompress(const BlockGeometry& g, const void* in, char* block,
                               cudaStream_t stream, Layout layout = Layout::kCanonical);

  // Enqueues the decompression of the sections of `block` (device memory holding a whole block
  // laid out by g, already verified with ParseBlock) into `out` (device memory, 16-byte aligned,
  // g.info.shape elements of out_dtype in `layout`).
  absl::Status EnqueueDecompress(const BlockGeometry& g, const char* block, void* out,
                                 DType out_dtype, cudaStream_t stream,
                                 Layout layout = Layout::kCanonical);

  // Waits for `stream`, then reports what the kernels enqueued since the last Finish found
  // (several Enqueue* may share one Finish; messages name heads of the last one's shape):
  // INVALID_ARGUMENT naming the head for a non-finite or out-of-range input value (the CPU
  // backend's message), INVALID_ARGUMENT for a malformed block, INTERNAL for an outlier
  // selection that went wrong (a bug). Nothing is enqueued per call for this: the kernels flag
  // errors in a device word that Finish reads (and clears when set).
  absl::Status Finish(cudaStream_t stream);

  int device() const { return device_; }

 private:
  DeviceGear() = default;
  // Uploads the outlier prefix counts of both kinds (skipped when unchanged).
  absl::Status UploadPoolBases(const BlockGeometry& g, cudaStream_t stream,
                               const uint32_t* (&bases)[2]);
  absl::Status ResetStatus();  // synchronous

  int device_ = 0;
  int sm_count_ = 1;
  size_t max_shared_ = 48 * 1024;
  DeviceBuffer pool_bases_, scratch_, status_;
  std::vector<uint32_t> bases_host_;  // what pool_bases_ holds
  uint32_t kv_heads_ = 1;             // of the last call, for error messages
};

// Outlier prefix counts of one kind: entry p is the index of pool p's first outlier in the
// head's outlier arrays, entry `pools` the total (== layout.outliers). From OutliersPerSide, as
// every backend computes them.
std::vector<uint32_t> OutlierPoolBases(const HeadLayout& layout);

}  // namespace gearkv::internal::cuda

#endif  // GEARKV_KERNELS_CUDA_DEVICE_GEAR_H_
