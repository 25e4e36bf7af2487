// Writes a seed corpus for block_fuzzer: valid blocks of every preset and dtype on small odd
// shapes, and the format version 1 fixtures of kernels/testdata/v1/ when run from the
// repository root, each behind a mode byte (0 = as is, 1 = re-seal).
//
//   block_fuzzer_seeds DIR
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "gearkv/codec.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  auto codec = *gearkv::MakeCodec(gearkv::Backend::kCpu);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  const gearkv::TensorShape shapes[] = {{1, 1, 1, 8}, {2, 1, 9, 16}, {1, 2, 70, 8}};
  int n = 0;
  auto write_seed = [&](const std::string& block) {
    const std::string path = std::string(argv[1]) + "/seed" + std::to_string(n++);
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return false;
    std::fputc(n % 2, f);
    std::fwrite(block.data(), 1, block.size(), f);
    std::fclose(f);
    return true;
  };
  for (const auto& shape : shapes) {
    std::vector<float> values(shape.NumElements());
    for (float& v : values) v = normal(rng);
    for (std::string_view preset : gearkv::PresetNames()) {
      auto spec = *gearkv::PresetSpec(preset);
      auto block = codec->Compress({shape, gearkv::DType::kFloat32, values.data()}, spec);
      if (!block.ok() || !write_seed(block->bytes)) return 1;
    }
  }
  for (const char* v1 :
       {"kernels/testdata/v1/gear4_f16.gkvb", "kernels/testdata/v1/b3_g32_r3_f32.gkvb"}) {
    std::ifstream file(v1, std::ios::binary);
    if (!file) continue;  // not run from the repository root
    const std::string block((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
    if (!write_seed(block)) return 1;
  }
  std::printf("wrote %d seeds to %s\n", n, argv[1]);
  return 0;
}
