#include "cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "gearkv/base/mutex.h"

namespace gearkv::internal {
namespace {

uint64_t HardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

// The threads that help ParallelFor's callers: one fewer than the hardware threads (a caller
// is always one of the workers of its own loop), started on first use and kept for the life of
// the process, so that a loop over a small block costs a wake-up rather than thread starts.
class HelperThreads {
 public:
  static HelperThreads& Get() {
    static HelperThreads* const pool = new HelperThreads(HardwareThreads() - 1);  // never freed:
    return *pool;  // its threads wait on the queue until the process exits
  }

  // Runs `task` on a helper thread as soon as one is free.
  void Submit(std::function<void()> task) {
    {
      MutexLock lock(&mu_);
      queue_.push_back(std::move(task));
    }
    ready_.Signal();
  }

 private:
  explicit HelperThreads(uint64_t count) {
    for (uint64_t i = 0; i < count; ++i) std::thread([this] { Serve(); }).detach();
  }

  void Serve() {
    for (;;) {
      std::function<void()> task;
      {
        MutexLock lock(&mu_);
        while (queue_.empty()) ready_.Wait(&mu_);
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  Mutex mu_;
  CondVar ready_;  // queue_ not empty
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
};

// One ParallelFor call, shared with the helpers it asked for. A helper that starts after every
// index was taken finds nothing to do and never touches `fn` (which lives on the caller's
// stack); the state itself lives until the last helper lets go of it.
struct Loop {
  Loop(uint64_t n, const std::function<void(uint64_t)>& fn) : n(n), fn(fn) {}
  const uint64_t n;
  const std::function<void(uint64_t)>& fn;
  std::atomic<uint64_t> next{0};  // the next index to take
  std::atomic<uint64_t> done{0};  // indexes whose fn(i) has returned

  void Work() {
    uint64_t finished = 0;
    for (uint64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      fn(i);
      ++finished;
    }
    if (finished > 0 && done.fetch_add(finished) + finished == n) done.notify_all();
  }
};

}  // namespace

void ParallelFor(uint64_t n, int threads, const std::function<void(uint64_t)>& fn) {
  uint64_t workers = threads > 0 ? static_cast<uint64_t>(threads) : HardwareThreads();
  workers = std::min({workers, n, HardwareThreads()});
  if (workers <= 1) {
    for (uint64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto loop = std::make_shared<Loop>(n, fn);
  for (uint64_t w = 1; w < workers; ++w) HelperThreads::Get().Submit([loop] { loop->Work(); });
  loop->Work();
  // Every index is taken; wait for the ones helpers are still running.
  for (uint64_t d = loop->done.load(); d != n; d = loop->done.load()) loop->done.wait(d);
}

}  // namespace gearkv::internal
