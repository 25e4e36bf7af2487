#include "cuda_codec.h"

#include <cuda_runtime_api.h>

#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "block_format.h"
#include "cpu/cpu_codec.h"
#include "device_gear.h"
#include "gearkv/status_macros.h"

namespace gearkv::internal {
namespace {

using cuda::CudaStatus;
using cuda::DeviceBuffer;
using cuda::DeviceGear;

// True when p is device (or managed) memory of any device; host memory, registered or not, is
// false.
bool IsDevicePointer(const void* p) {
  cudaPointerAttributes attributes;
  if (cudaPointerGetAttributes(&attributes, p) != cudaSuccess) {
    cudaGetLastError();  // clear the error of an unknown pointer
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
}

bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// One stream with its device buffers; used by one call at a time.
struct Worker {
  cudaStream_t stream = nullptr;
  std::unique_ptr<DeviceGear> gear;
  DeviceBuffer tensor, block;

  ~Worker() {
    if (stream != nullptr) cudaStreamDestroy(stream);
  }
};

class CudaCodec final : public Codec {
 public:
  explicit CudaCodec(int device) : device_(device) {}

  absl::StatusOr<Block> Compress(const TensorView& tensor, const CodecSpec& spec,
                                 const CompressOptions& options) const override;
  absl::Status Decompress(std::string_view block, const MutableTensorView& out,
                          const DecompressOptions& options) const override;
  Backend backend() const override { return Backend::kCuda; }

 private:
  // A worker from the pool (a new one when all are busy), handed back by the lease.
  class Lease {
   public:
    Lease(const CudaCodec* codec, std::unique_ptr<Worker> worker)
        : codec_(codec), worker_(std::move(worker)) {}
    ~Lease() {
      // Nothing of this call may still run when the worker is reused or the caller's memory
      // goes away (after an error return, say).
      cudaStreamSynchronize(worker_->stream);
      std::lock_guard<std::mutex> lock(codec_->mu_);
      codec_->idle_.push_back(std::move(worker_));
    }
    Worker* operator->() const { return worker_.get(); }

   private:
    const CudaCodec* codec_;
    std::unique_ptr<Worker> worker_;
  };
  absl::StatusOr<std::unique_ptr<Lease>> Acquire() const;

  const int device_;
  CpuCodec cpu_;  // the `none` method on host memory is a copy: done where the data is
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Worker>> idle_;  // guarded by mu_
};

absl::StatusOr<std::unique_ptr<CudaCodec::Lease>> CudaCodec::Acquire() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Worker> w = std::move(idle_.back());
      idle_.pop_back();
      GEARKV_RETURN_IF_ERROR(CudaStatus(cudaSetDevice(device_), "selecting the device"));
      return std::make_unique<Lease>(this, std::move(w));
    }
  }
  auto w = std::make_unique<Worker>();
  GEARKV_RETURN_IF_ERROR(CudaStatus(cudaSetDevice(device_), "selecting the device"));
  GEARKV_RETURN_IF_ERROR(CudaStatus(cudaStreamCreateWithFlags(&w->stream, cudaStreamNonBlocking),
                                    "creating a stream"));
  GEARKV_ASSIGN_OR_RETURN(w->gear, DeviceGear::Create(device_));
  return std::make_unique<Lease>(this, std::move(w));
}

absl::StatusOr<Block> CudaCodec::Compress(const TensorView& tensor, const CodecSpec& spec,
                                          const CompressOptions& options) const {
  GEARKV_ASSIGN_OR_RETURN(BlockGeometry g, MakeBlockGeometryForInput(tensor, spec));
  const bool on_device = IsDevicePointer(tensor.data);
  if (!on_device && spec.method == Method::kNone) return cpu_.Compress(tensor, spec, options);

  Block block;
  block.bytes.resize(g.info.block_bytes);
  {
    GEARKV_ASSIGN_OR_RETURN(auto w, Acquire());
    const cudaStream_t stream = (*w)->stream;
    const void* in = tensor.data;
    if (!on_device || !Aligned16(in)) {
      GEARKV_RETURN_IF_ERROR((*w)->tensor.Reserve(g.info.raw_bytes));
      GEARKV_RETURN_IF_ERROR(CudaStatus(
          cudaMemcpyAsync((*w)->tensor.data(), in, g.info.raw_bytes, cudaMemcpyDefault, stream),
          "copying the tensor to the device"));
      in = (*w)->tensor.data();
    }
    GEARKV_RETURN_IF_ERROR((*w)->block.Reserve(g.info.block_bytes));
    char* d_block = static_cast<char*>((*w)->block.data());
    // A host tensor goes to the device as it lies (same bytes, same layout): the kernels read
    // it in its layout.
    GEARKV_RETURN_IF_ERROR((*w)->gear->EnqueueCompress(g, in, d_block, stream, tensor.layout));
    GEARKV_RETURN_IF_ERROR(CudaStatus(
        cudaMemcpyAsync(block.bytes.data() + g.data_offset, d_block + g.data_offset,
                        g.checksum_offset - g.data_offset, cudaMemcpyDeviceToHost, stream),
        "copying the block to the host"));
    GEARKV_RETURN_IF_ERROR((*w)->gear->Finish(stream));
  }
  WriteHeaderAndTable(g, block.bytes.data());
  WriteChecksum(g, block.bytes.data());

  CompressStats& st = block.stats;
  st = StatsOf(g);
  const TensorShape& s = tensor.shape;
  if (options.measure_error) {
    std::vector<float> decoded(s.NumElements());
    const MutableTensorView view{s, DType::kFloat32, decoded.data(), tensor.layout};
    GEARKV_RETURN_IF_ERROR(Decompress(block.bytes, view, {}));
    if (on_device) {
      std::string host(g.info.raw_bytes, '\0');
      GEARKV_RETURN_IF_ERROR(
          CudaStatus(cudaMemcpy(host.data(), tensor.data, g.info.raw_bytes, cudaMemcpyDefault),
                     "copying the tensor to the host"));
      GEARKV_ASSIGN_OR_RETURN(
          st.relative_error,
          RelativeError(view, TensorView{s, tensor.dtype, host.data(), tensor.layout}));
    } else {
      GEARKV_ASSIGN_OR_RETURN(st.relative_error, RelativeError(view, tensor));
    }
  }
  return block;
}

absl::Status CudaCodec::Decompress(std::string_view block, const MutableTensorView& out,
                                   const DecompressOptions& options) const {
  GEARKV_ASSIGN_OR_RETURN(ParsedBlock parsed, ParseBlockForOutput(block, out));
  const BlockGeometry& g = parsed.geometry;
  const bool on_device = IsDevicePointer(out.data);
  if (!on_device && g.info.spec.method == Method::kNone) {
    return cpu_.Decompress(block, out, options);
  }

  GEARKV_ASSIGN_OR_RETURN(auto w, Acquire());
  const cudaStream_t stream = (*w)->stream;
  GEARKV_RETURN_IF_ERROR((*w)->block.Reserve(g.info.block_bytes));
  char* d_block = static_cast<char*>((*w)->block.data());
  GEARKV_RETURN_IF_ERROR(
      CudaStatus(cudaMemcpyAsync(d_block + g.data_offset, block.data() + g.data_offset,
                                 g.checksum_offset - g.data_offset, cudaMemcpyHostToDevice, stream),
                 "copying the block to the device"));
  const uint64_t out_bytes = out.SizeBytes();
  void* d_out = out.data;
  if (!on_device || !Aligned16(d_out)) {
    GEARKV_RETURN_IF_ERROR((*w)->tensor.Reserve(out_bytes));
    d_out = (*w)->tensor.data();
  }
  GEARKV_RETURN_IF_ERROR(
      (*w)->gear->EnqueueDecompress(g, d_block, d_out, out.dtype, stream, out.layout));
  if (d_out != out.data) {
    GEARKV_RETURN_IF_ERROR(
        CudaStatus(cudaMemcpyAsync(out.data, d_out, out_bytes, cudaMemcpyDefault, stream),
                   "copying the tensor to the host"));
  }
  return (*w)->gear->Finish(stream);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Codec>> MakeCudaCodec() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // not sticky, but leave nothing behind
    return absl::UnavailableError(absl::StrCat("no CUDA device: ", cudaGetErrorName(err), " (",
                                               cudaGetErrorString(err), ")"));
  }
  if (count == 0) return absl::UnavailableError("no CUDA device: none found");
  constexpr int kDevice = 0;
  GEARKV_RETURN_IF_ERROR(CudaStatus(cudaSetDevice(kDevice), "selecting device 0"));
  const cudaError_t image = cuda::CheckKernelImage();
  if (image != cudaSuccess) {
    cudaGetLastError();
    cudaDeviceProp prop;
    const bool named = cudaGetDeviceProperties(&prop, kDevice) == cudaSuccess;
    return absl::UnavailableError(absl::StrCat(
        "CUDA device 0",
        named ? absl::StrCat(" (", prop.name, ", sm_", prop.major, prop.minor, ")") : "",
        " cannot run this build's kernels: ", cudaGetErrorName(image),
        "; rebuild with CMAKE_CUDA_ARCHITECTURES including it"));
  }
  return std::make_unique<CudaCodec>(kDevice);
}

}  // namespace gearkv::internal
