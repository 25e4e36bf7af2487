#include "latency.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace gearkv::cli {

LatencySummary Summarize(std::vector<double>& samples_ms) {
  LatencySummary s;
  if (samples_ms.empty()) return s;
  std::sort(samples_ms.begin(), samples_ms.end());
  const size_t n = samples_ms.size();
  auto rank = [&](double p) {
    const size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(n)));
    return samples_ms[std::clamp<size_t>(r, 1, n) - 1];
  };
  s.mean_ms = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) / static_cast<double>(n);
  s.p50_ms = rank(0.50);
  s.p99_ms = rank(0.99);
  s.max_ms = samples_ms.back();
  return s;
}

}  // namespace gearkv::cli
