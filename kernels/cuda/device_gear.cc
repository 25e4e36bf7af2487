#include "device_gear.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gearkv/status_macros.h"

namespace gearkv::internal::cuda {
namespace {

constexpr unsigned long long kNoBadHead = std::numeric_limits<unsigned long long>::max();
// Global workspace of the compress kernel when a head does not fit in shared memory.
constexpr uint64_t kMaxScratchBytes = uint64_t{2} << 30;

HeadsGeometry MakeHeadsGeometry(const BlockGeometry& g) {
  HeadsGeometry h;
  h.layout[0] = g.heads[0];
  h.layout[1] = g.heads[1];
  const TensorShape& s = g.info.shape;
  h.tokens = s.tokens;
  h.head_dim = s.head_dim;
  h.kv_heads = s.kv_heads;
  h.num_heads = uint64_t{s.layers} * 2 * s.kv_heads;
  h.data_offset = g.data_offset;
  h.section_bytes[0] = g.section_bytes[0];
  h.section_bytes[1] = g.section_bytes[1];
  return h;
}

ElemType ToElemType(DType t) { return static_cast<ElemType>(static_cast<uint8_t>(t)); }

}  // namespace

absl::Status CudaStatus(cudaError_t err, std::string_view what) {
  if (err == cudaSuccess) return absl::OkStatus();
  const std::string message =
      absl::StrCat("CUDA backend: ", std::string(what), " failed: ", cudaGetErrorName(err), " (",
                   cudaGetErrorString(err), ")");
  if (err == cudaErrorMemoryAllocation) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) cudaFree(data_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), capacity_(std::exchange(other.capacity_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

absl::Status DeviceBuffer::Reserve(size_t bytes) {
  if (bytes <= capacity_) return absl::OkStatus();
  if (data_ != nullptr) cudaFree(data_);
  data_ = nullptr;
  capacity_ = 0;
  GEARKV_RETURN_IF_ERROR(CudaStatus(cudaMalloc(&data_, bytes),
                                    absl::StrCat("allocating ", bytes, " bytes of device memory")));
  capacity_ = bytes;
  return absl::OkStatus();
}

std::vector<uint32_t> OutlierPoolBases(const HeadLayout& l) {
  std::vector<uint32_t> bases(l.pools + 1, 0);
  for (uint32_t p = 0; p < l.pools; ++p) {
    const uint32_t k =
        l.outlier_ratio > 0
            ? OutliersPerSide(l.outlier_ratio, PoolSize(l.kind, l.tokens, l.head_dim, p), p)
            : 0;
    bases[p + 1] = bases[p] + 2 * k;
  }
  return bases;
}

absl::StatusOr<std::unique_ptr<DeviceGear>> DeviceGear::Create(int device) {
  std::unique_ptr<DeviceGear> gear(new DeviceGear());
  gear->device_ = device;
  GEARKV_RETURN_IF_ERROR(CudaStatus(cudaSetDevice(device), "selecting the device"));
  GEARKV_RETURN_IF_ERROR(
      CudaStatus(cudaDeviceGetAttribute(&gear->sm_count_, cudaDevAttrMultiProcessorCount, device),
                 "reading the multiprocessor count"));
  GEARKV_RETURN_IF_ERROR(
      CudaStatus(MaxSharedBytesPerBlock(device, &gear->max_shared_), "reading shared memory size"));
  GEARKV_RETURN_IF_ERROR(gear->status_.Reserve(sizeof(KernelStatus)));
  GEARKV_RETURN_IF_ERROR(gear->ResetStatus());
  return gear;
}

absl::Status DeviceGear::ResetStatus() {
  KernelStatus clean;
  clean.first_bad_head = kNoBadHead;
  clean.malformed = 0;
  clean.internal = 0;
  return CudaStatus(cudaMemcpy(status_.data(), &clean, sizeof(clean), cudaMemcpyHostToDevice),
                    "resetting the kernel status");
}

absl::Status DeviceGear::UploadPoolBases(const BlockGeometry& g, cudaStream_t stream,
                                         const uint32_t* (&bases)[2]) {
  const std::vector<uint32_t> keys = OutlierPoolBases(g.heads[0]);
  const std::vector<uint32_t> values = OutlierPoolBases(g.heads[1]);
  if (keys.back() != g.heads[0].outliers || values.back() != g.heads[1].outliers) {
    return absl::InternalError("CUDA backend: outlier counts disagree with the block layout");
  }
  std::vector<uint32_t> all = keys;
  all.insert(all.end(), values.begin(), values.end());
  if (all != bases_host_ || pool_bases_.data() == nullptr) {
    GEARKV_RETURN_IF_ERROR(pool_bases_.Reserve(all.size() * sizeof(uint32_t)));
    // From pageable memory: the call returns once `all` has been staged.
    GEARKV_RETURN_IF_ERROR(
        CudaStatus(cudaMemcpyAsync(pool_bases_.data(), all.data(), all.size() * sizeof(uint32_t),
                                   cudaMemcpyHostToDevice, stream),
                   "uploading outlier counts"));
    bases_host_ = std::move(all);
  }
  bases[0] = static_cast<const uint32_t*>(pool_bases_.data());
  bases[1] = bases[0] + keys.size();
  return absl::OkStatus();
}

absl::Status DeviceGear::EnqueueCompress(const BlockGeometry& g, const void* in, char* block,
                                         cudaStream_t stream, Layout layout) {
  GEARKV_RETURN_IF_ERROR(ValidateLayout(layout));
  GEARKV_RETURN_IF_ERROR(CudaStatus(cudaSetDevice(device_), "selecting the device"));
  const TensorShape& s = g.info.shape;
  kv_heads_ = s.kv_heads;
  if (g.info.spec.method == Method::kNone) {
    // Sections are the matrices in canonical order, each padded to kArrayAlignment (a no-op for
    // every valid shape, since head_dim is a multiple of 8).
    const uint64_t matrix_bytes = s.MatrixElements() * DTypeSize(g.info.dtype);
    if (layout != Layout::kCanonical) {
      if (g.section_bytes[0] != matrix_bytes) {
        return absl::InternalError(
            "CUDA backend: padded `none` sections in a non-canonical layout");
      }
      const ElemType t = ToElemType(g.info.dtype);
      return CudaStatus(ConvertPlacedElements(in, t, PlacementOf(s, layout), block + g.data_offset,
                                              t, PlacementOf(s, Layout::kCanonical), stream),
                        "gathering the tensor");
    }
    if (g.section_bytes[0] == matrix_bytes) {
      GEARKV_RETURN_IF_ERROR(CudaStatus(cudaMemcpyAsync(block + g.data_offset, in, g.info.raw_bytes,
                                                        cudaMemcpyDeviceToDevice, stream),
                                        "copying the tensor"));
    } else {
      for (uint32_t i = 0; i < g.sections; ++i) {
        char* dst = block + g.SectionOffset(i / 2, static_cast<Kind>(i % 2));
        GEARKV_RETURN_IF_ERROR(CudaStatus(cudaMemsetAsync(dst, 0, g.section_bytes[i % 2], stream),
                                          "zeroing a section"));
        GEARKV_RETURN_IF_ERROR(
            CudaStatus(cudaMemcpyAsync(dst, static_cast<const char*>(in) + i * matrix_bytes,
                                       matrix_bytes, cudaMemcpyDeviceToDevice, stream),
                       "copying the tensor"));
      }
    }
    return absl::OkStatus();
  }

  CompressArgs a;
  a.g = MakeHeadsGeometry(g);
  a.dtype = ToElemType(g.info.dtype);
  a.bits = g.info.spec.bits;
  a.power_iterations = g.info.spec.power_iterations;
  a.seed = g.info.spec.seed;
  a.group_div = FastDiv16::Make(g.info.spec.group_size);
  a.in = in;
  a.in_place = PlacementOf(s, layout);
  a.block = block;
  GEARKV_RETURN_IF_ERROR(UploadPoolBases(g, stream, a.pool_base));
  a.status = static_cast<KernelStatus*>(status_.data());
  const uint32_t rank = g.heads[0].rank;
  const uint64_t max_grid = std::numeric_limits<int32_t>::max();
  a.ws = MakeCompressWorkspace(s.tokens, s.head_dim, rank, /*shared=*/true);
  if (a.ws.bytes <= max_shared_) {
    a.ws_in_shared = true;
    a.grid = static_cast<uint32_t>(std::min(a.g.num_heads, max_grid));
  } else {
    a.ws = MakeCompressWorkspace(s.tokens, s.head_dim, rank, /*shared=*/false);
    a.ws_in_shared = false;
    uint64_t grid = std::min<uint64_t>(a.g.num_heads, 2 * uint64_t(sm_count_));
    grid = std::max<uint64_t>(1, std::min(grid, kMaxScratchBytes / a.ws.bytes));
    a.grid = static_cast<uint32_t>(grid);
    GEARKV_RETURN_IF_ERROR(scratch_.Reserve(grid * a.ws.bytes));
    a.scratch = static_cast<char*>(scratch_.data());
  }
  return CudaStatus(CompressGear(a, stream), "launching the compress kernel");
}

absl::Status DeviceGear::EnqueueDecompress(const BlockGeometry& g, const char* block, void* out,
                                           DType out_dtype, cudaStream_t stream, Layout layout) {
  GEARKV_RETURN_IF_ERROR(ValidateLayout(layout));
  GEARKV_RETURN_IF_ERROR(CudaStatus(cudaSetDevice(device_), "selecting the device"));
  const TensorShape& s = g.info.shape;
  kv_heads_ = s.kv_heads;
  if (g.info.spec.method == Method::kNone) {
    const uint64_t n = s.MatrixElements();
    const size_t out_matrix_bytes = n * DTypeSize(out_dtype);
    if (layout != Layout::kCanonical) {
      if (g.section_bytes[0] != n * DTypeSize(g.info.dtype)) {
        return absl::InternalError(
            "CUDA backend: padded `none` sections in a non-canonical layout");
      }
      return CudaStatus(
          ConvertPlacedElements(block + g.data_offset, ToElemType(g.info.dtype),
                                PlacementOf(s, Layout::kCanonical), out, ToElemType(out_dtype),
                                PlacementOf(s, layout), stream),
          "scattering the tensor");
    }
    if (g.section_bytes[0] == n * DTypeSize(g.info.dtype)) {  // unpadded: one array
      return CudaStatus(ConvertElements(block + g.data_offset, ToElemType(g.info.dtype), out,
                                        ToElemType(out_dtype), s.NumElements(), stream),
                        "converting the tensor");
    }
    for (uint32_t i = 0; i < g.sections; ++i) {
      GEARKV_RETURN_IF_ERROR(CudaStatus(
          ConvertElements(block + g.SectionOffset(i / 2, static_cast<Kind>(i % 2)),
                          ToElemType(g.info.dtype), static_cast<char*>(out) + i * out_matrix_bytes,
                          ToElemType(out_dtype), n, stream),
          "converting the tensor"));
    }
    return absl::OkStatus();
  }

  DecompressArgs a;
  a.g = MakeHeadsGeometry(g);
  a.block_dtype = ToElemType(g.info.dtype);
  a.out_dtype = ToElemType(out_dtype);
  a.bits = g.info.spec.bits;
  a.group_div = FastDiv16::Make(g.info.spec.group_size);
  a.block = block;
  a.out = out;
  a.out_place = PlacementOf(s, layout);
  GEARKV_RETURN_IF_ERROR(UploadPoolBases(g, stream, a.pool_base));
  a.status = static_cast<KernelStatus*>(status_.data());
  const uint64_t vt_bytes = sizeof(float) * uint64_t{g.heads[0].rank} * s.head_dim;
  if (vt_bytes <= 48 * 1024) {
    a.vt_in_shared = true;
    a.grid = static_cast<uint32_t>(
        std::min<uint64_t>(a.g.num_heads, std::numeric_limits<int32_t>::max()));
  } else {
    a.vt_in_shared = false;
    a.grid = static_cast<uint32_t>(std::min<uint64_t>(a.g.num_heads, 4 * uint64_t(sm_count_)));
    GEARKV_RETURN_IF_ERROR(scratch_.Reserve(a.grid * vt_bytes));
    a.scratch = static_cast<float*>(scratch_.data());
  }
  return CudaStatus(DecompressGear(a, stream), "launching the decompress kernel");
}

absl::Status DeviceGear::Finish(cudaStream_t stream) {
  GEARKV_RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(stream), "running the kernels"));
  KernelStatus st;
  GEARKV_RETURN_IF_ERROR(
      CudaStatus(cudaMemcpy(&st, status_.data(), sizeof(st), cudaMemcpyDeviceToHost),
                 "reading the kernel status"));
  if (st.first_bad_head == kNoBadHead && st.malformed == 0 && st.internal == 0) {
    return absl::OkStatus();
  }
  GEARKV_RETURN_IF_ERROR(ResetStatus());
  if (st.first_bad_head != kNoBadHead) {
    const uint64_t i = st.first_bad_head, matrix = i / kv_heads_;
    return absl::InvalidArgumentError(absl::StrCat(
        "layer ", matrix / 2, matrix % 2 ? " V" : " K", " head ", i % kv_heads_,
        " holds a NaN, an infinity or a value beyond fp16's range (|x| > 65504); lossy "
        "presets need finite values in that range (preset 'none' stores anything)"));
  }
  if (st.malformed != 0) {
    return absl::InvalidArgumentError(
        "block is malformed: an outlier offset lies outside its pool");
  }
  return absl::InternalError(
      "CUDA backend: an outlier selection did not find its 2k entries (a bug; please report "
      "it with the input)");
}

}  // namespace gearkv::internal::cuda
