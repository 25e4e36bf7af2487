// Helpers for the disk tier's damage tests (internal, tests only): a log collector and raw
// access to the files of a closed RocksDB directory.
#ifndef GEARKV_STORE_DISK_TEST_FILES_H_
#define GEARKV_STORE_DISK_TEST_FILES_H_

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "gearkv/store/disk_store.h"

namespace gearkv::store::testing {

// Collects what a store logs (DiskStoreOptions::log).
class LogLines {
 public:
  DiskLog Sink() {
    return [this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    };
  }
  std::vector<std::string> Lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }
  bool Contains(absl::string_view text) const {
    std::lock_guard lock(mu_);
    return std::any_of(lines_.begin(), lines_.end(),
                       [&](const std::string& line) { return absl::StrContains(line, text); });
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// The files in `dir` whose names end with `suffix` (or, for "MANIFEST", start with it), sorted.
inline std::vector<std::filesystem::path> FilesNamed(const std::filesystem::path& dir,
                                                     absl::string_view suffix) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, suffix) || (suffix == "MANIFEST" && absl::StartsWith(name, suffix))) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string ReadAll(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void WriteAll(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Flips one byte in the middle of the first copy of `needle` in any file of `dir` ending with
// `suffix`; returns the file, or an empty path when no file holds `needle`.
inline std::filesystem::path FlipInside(const std::filesystem::path& dir, absl::string_view suffix,
                                        const std::string& needle) {
  for (const std::filesystem::path& file : FilesNamed(dir, suffix)) {
    std::string bytes = ReadAll(file);
    const size_t at = bytes.find(needle);
    if (at == std::string::npos) continue;
    bytes[at + needle.size() / 2] ^= 0x5A;
    WriteAll(file, bytes);
    return file;
  }
  return {};
}

}  // namespace gearkv::store::testing

#endif  // GEARKV_STORE_DISK_TEST_FILES_H_
