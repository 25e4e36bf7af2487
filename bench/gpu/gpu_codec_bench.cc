// GPU codec benchmark: compress / decompress throughput of device-resident KV blocks in GB/s of
// fp16 input, next to a device-to-device cudaMemcpy of the same bytes measured in the same run.
//
//   gearkv_gpu_codec_bench [--out_dir=DIR] [--iters=N] [--layers=32] [--heads=8] [--tokens=256]
//                          [--head_dim=128] [--presets=none,kivi4,gear4,gear2]
//
// Kernel throughput: the tensor and the block stay in device memory; N back-to-back calls on one
// stream are timed with CUDA events (DeviceGear::Enqueue*, the kernels alone: the block header
// and checksum are host work, measured separately below). GB/s = fp16 input bytes / time, for
// compress and decompress alike. The copy is reported the same way (input bytes / time; it
// reads and writes them, so its memory traffic is twice that).
// End-to-end: the Codec API on host memory (PCIe transfers, header, XXH3 checksum) for context.
// Every GPU block is also decompressed on the CPU backend and its relative error reported (the
// byte-level comparison with the CPU backend is the tests' job: kernels/cuda/cuda_codec_test.cc).
//
// Prints a table and writes gpu-<UTC date>.json and .md to --out_dir (default bench/results).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "block_format.h"
#include "device_gear.h"
#include "gearkv/codec.h"
#include "test_util.h"

namespace gearkv {
namespace {

using internal::cuda::DeviceBuffer;
using internal::cuda::DeviceGear;

struct Options {
  std::string out_dir = "bench/results";
  int iters = 50;
  TensorShape shape{32, 8, 256, 128};
  std::vector<std::string> presets = {"none", "kivi4", "gear4", "gear2"};
};

struct Row {
  std::string name;
  double compress_gbps = 0, decompress_gbps = 0;  // kernels, device-resident
  double compress_us = 0, decompress_us = 0;
  double e2e_compress_gbps = 0, e2e_decompress_gbps = 0;  // Codec API, host memory
  double ratio = 0, bits_per_element = 0, relative_error = 0;
};

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "gpu_codec_bench: " << what << "\n";
  std::exit(1);
}

void Check(const absl::Status& st, const std::string& what) {
  if (!st.ok()) Die(what + ": " + st.ToString());
}

void CheckCuda(cudaError_t err, const std::string& what) {
  if (err != cudaSuccess) Die(what + ": " + cudaGetErrorString(err));
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string key = arg.substr(0, eq),
                      value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (key == "--out_dir") {
      o.out_dir = value;
    } else if (key == "--iters") {
      o.iters = std::max(1, std::atoi(value.c_str()));
    } else if (key == "--layers") {
      o.shape.layers = std::atoi(value.c_str());
    } else if (key == "--heads") {
      o.shape.kv_heads = std::atoi(value.c_str());
    } else if (key == "--tokens") {
      o.shape.tokens = std::atoi(value.c_str());
    } else if (key == "--head_dim") {
      o.shape.head_dim = std::atoi(value.c_str());
    } else if (key == "--presets") {
      o.presets = absl::StrSplit(value, ',', absl::SkipEmpty());
    } else {
      Die("unknown flag " + arg + " (see the header of bench/gpu/gpu_codec_bench.cc)");
    }
  }
  Check(ValidateShape(o.shape), "shape");
  return o;
}

// Average time of one call of `enqueue` over `iters` back-to-back calls on `stream`, in
// microseconds.
template <typename Fn>
double TimeUs(cudaStream_t stream, int iters, Fn&& enqueue) {
  cudaEvent_t start, stop;
  CheckCuda(cudaEventCreate(&start), "event");
  CheckCuda(cudaEventCreate(&stop), "event");
  CheckCuda(cudaEventRecord(start, stream), "event");
  for (int i = 0; i < iters; ++i) enqueue();
  CheckCuda(cudaEventRecord(stop, stream), "event");
  CheckCuda(cudaEventSynchronize(stop), "event");
  float ms = 0;
  CheckCuda(cudaEventElapsedTime(&ms, start, stop), "event");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return 1000.0 * ms / iters;
}

std::string UtcDate() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", std::gmtime(&now));
  return buf;
}

int Main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  int device = 0;
  cudaDeviceProp prop;
  CheckCuda(cudaGetDeviceProperties(&prop, device), "no usable CUDA device");
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  std::cout << "device: " << prop.name << " (sm_" << prop.major << prop.minor << ", "
            << prop.multiProcessorCount << " SMs, " << (prop.totalGlobalMem >> 30)
            << " GiB), runtime " << runtime << ", driver " << driver << "\n";
  std::cout << "block: " << o.shape.DebugString() << " fp16, " << (o.shape.NumElements() * 2 >> 20)
            << " MiB; " << o.iters << " iterations\n";

  auto gear_or = DeviceGear::Create(device);
  Check(gear_or.status(), "DeviceGear");
  DeviceGear& gear = **gear_or;
  cudaStream_t stream;
  CheckCuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");

  const testing::OwnedTensor input = testing::RandomKv(o.shape, DType::kFloat16, 1);
  const uint64_t raw = input.bytes.size();
  DeviceBuffer d_in, d_out, d_block;
  Check(d_in.Reserve(raw), "alloc");
  Check(d_out.Reserve(raw), "alloc");
  CheckCuda(cudaMemcpy(d_in.data(), input.bytes.data(), raw, cudaMemcpyHostToDevice), "upload");

  // The baseline: a device-to-device copy of the same bytes.
  for (int i = 0; i < 3; ++i) {
    CheckCuda(cudaMemcpyAsync(d_out.data(), d_in.data(), raw, cudaMemcpyDeviceToDevice, stream),
              "copy");
  }
  const double copy_us = TimeUs(stream, o.iters, [&] {
    cudaMemcpyAsync(d_out.data(), d_in.data(), raw, cudaMemcpyDeviceToDevice, stream);
  });
  const double copy_gbps = raw / copy_us / 1e3;

  auto cpu = MakeCodec(Backend::kCpu);
  auto gpu = MakeCodec(Backend::kCuda);
  Check(gpu.status(), "MakeCodec(kCuda)");
  std::vector<Row> rows;
  for (const std::string& name : o.presets) {
    auto spec = PresetSpec(name);
    Check(spec.status(), "preset");
    auto g_or = internal::MakeBlockGeometry(o.shape, DType::kFloat16, *spec);
    Check(g_or.status(), "geometry");
    const internal::BlockGeometry& g = *g_or;
    Check(d_block.Reserve(g.info.block_bytes), "alloc");
    char* block = static_cast<char*>(d_block.data());

    Row row;
    row.name = name;
    for (int i = 0; i < 3; ++i) {  // warm-up (and first-touch of the pool counts)
      Check(gear.EnqueueCompress(g, d_in.data(), block, stream), "compress");
      Check(gear.Finish(stream), "compress");
    }
    row.compress_us = TimeUs(stream, o.iters, [&] {
      Check(gear.EnqueueCompress(g, d_in.data(), block, stream), "compress");
    });
    Check(gear.Finish(stream), "compress");
    for (int i = 0; i < 3; ++i) {
      Check(gear.EnqueueDecompress(g, block, d_out.data(), DType::kFloat16, stream), "decompress");
      Check(gear.Finish(stream), "decompress");
    }
    row.decompress_us = TimeUs(stream, o.iters, [&] {
      Check(gear.EnqueueDecompress(g, block, d_out.data(), DType::kFloat16, stream), "decompress");
    });
    Check(gear.Finish(stream), "decompress");
    row.compress_gbps = raw / row.compress_us / 1e3;
    row.decompress_gbps = raw / row.decompress_us / 1e3;

    // The device block as a whole block: header and checksum on the host, decoded by the CPU.
    std::string bytes(g.info.block_bytes, '\0');
    CheckCuda(cudaMemcpy(bytes.data(), block, g.info.block_bytes, cudaMemcpyDeviceToHost),
              "download");
    internal::WriteHeaderAndTable(g, bytes.data());
    internal::WriteChecksum(g, bytes.data());
    testing::OwnedTensor decoded = testing::ZeroTensor(o.shape, DType::kFloat32);
    Check((*cpu)->Decompress(bytes, decoded.mutable_view()), "CPU decode of the GPU block");
    row.relative_error = *RelativeError(decoded.view(), input.view());
    row.ratio = static_cast<double>(raw) / g.info.block_bytes;
    row.bits_per_element = 8.0 * g.info.block_bytes / o.shape.NumElements();

    // End to end through the Codec API (host memory both ways).
    constexpr int kE2eIters = 5;
    auto t0 = std::chrono::steady_clock::now();
    Block b;
    for (int i = 0; i < kE2eIters; ++i) {
      auto r = (*gpu)->Compress(input.view(), *spec);
      Check(r.status(), "Codec::Compress");
      b = *std::move(r);
    }
    auto t1 = std::chrono::steady_clock::now();
    testing::OwnedTensor out = testing::ZeroTensor(o.shape, DType::kFloat16);
    for (int i = 0; i < kE2eIters; ++i) {
      Check((*gpu)->Decompress(b.bytes, out.mutable_view()), "Codec::Decompress");
    }
    auto t2 = std::chrono::steady_clock::now();
    const double c_s = std::chrono::duration<double>(t1 - t0).count() / kE2eIters;
    const double d_s = std::chrono::duration<double>(t2 - t1).count() / kE2eIters;
    row.e2e_compress_gbps = raw / c_s / 1e9;
    row.e2e_decompress_gbps = raw / d_s / 1e9;
    rows.push_back(row);
  }

  // Table.
  std::ostringstream md;
  md << "# gearkv GPU codec benchmark, " << UtcDate() << "\n\n"
     << "Device: " << prop.name << " (sm_" << prop.major << prop.minor << ", "
     << prop.multiProcessorCount << " SMs), CUDA runtime " << runtime << ", driver " << driver
     << ".\nBlock: " << o.shape.DebugString() << " fp16 = " << (raw >> 20) << " MiB; " << o.iters
     << " back-to-back calls per figure, CUDA events.\n"
     << "GB/s = fp16 input bytes / time (1 GB = 1e9 bytes). Kernels: device-resident tensor and "
        "block. E2E: Codec API on host memory (PCIe, header, checksum).\n\n"
     << "device-to-device cudaMemcpy of the same bytes: " << copy_gbps << " GB/s (" << copy_us
     << " us; reads and writes them)\n\n"
     << "| preset | compress GB/s | decompress GB/s | compress us | decompress us | "
        "ratio | bits/elem | rel. error | E2E compress GB/s | E2E decompress GB/s |\n"
     << "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const Row& r : rows) {
    md << "| " << r.name << " | " << r.compress_gbps << " | " << r.decompress_gbps << " | "
       << r.compress_us << " | " << r.decompress_us << " | " << r.ratio << " | "
       << r.bits_per_element << " | " << r.relative_error << " | " << r.e2e_compress_gbps << " | "
       << r.e2e_decompress_gbps << " |\n";
  }
  md << "\nTargets on an H200: gear4 compress >= 1000 GB/s, gear4 decompress >= 2000 GB/s, "
        "kivi4 compress >= 2000 GB/s.\n";
  std::cout << "\n" << md.str();

  std::ostringstream js;
  js << "{\n  \"date\": \"" << UtcDate() << "\",\n  \"device\": \"" << prop.name
     << "\",\n  \"sm\": " << prop.major * 10 + prop.minor << ",\n  \"cuda_runtime\": " << runtime
     << ",\n  \"cuda_driver\": " << driver << ",\n  \"shape\": {\"layers\": " << o.shape.layers
     << ", \"kv_heads\": " << o.shape.kv_heads << ", \"tokens\": " << o.shape.tokens
     << ", \"head_dim\": " << o.shape.head_dim << "},\n  \"dtype\": \"float16\",\n"
     << "  \"input_bytes\": " << raw << ",\n  \"iterations\": " << o.iters
     << ",\n  \"memcpy_d2d_gbps\": " << copy_gbps << ",\n  \"presets\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    js << "    {\"preset\": \"" << r.name << "\", \"compress_gbps\": " << r.compress_gbps
       << ", \"decompress_gbps\": " << r.decompress_gbps << ", \"compress_us\": " << r.compress_us
       << ", \"decompress_us\": " << r.decompress_us << ", \"ratio\": " << r.ratio
       << ", \"bits_per_element\": " << r.bits_per_element
       << ", \"relative_error\": " << r.relative_error
       << ", \"e2e_compress_gbps\": " << r.e2e_compress_gbps
       << ", \"e2e_decompress_gbps\": " << r.e2e_decompress_gbps << "}"
       << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  js << "  ]\n}\n";

  std::filesystem::create_directories(o.out_dir);
  const std::string base = o.out_dir + "/gpu-" + UtcDate();
  std::ofstream(base + ".json") << js.str();
  std::ofstream(base + ".md") << md.str();
  std::cout << "wrote " << base << ".json and .md\n";
  cudaStreamDestroy(stream);
  return 0;
}

}  // namespace
}  // namespace gearkv

int main(int argc, char** argv) { return gearkv::Main(argc, argv); }
