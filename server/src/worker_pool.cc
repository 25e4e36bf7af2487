#include "worker_pool.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"

namespace gearkv::server {

WorkerPool::WorkerPool(std::string name, int threads, int queue_depth)
    : name_(std::move(name)), queue_depth_(queue_depth < 0 ? 0 : queue_depth) {
  if (threads < 1) threads = 1;
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { RunWorker(); });
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::Full() const {
  // Threads not running a task take queued tasks at once (under mu_ the counts are consistent),
  // so only the tasks beyond them are waiting.
  const int64_t free_threads = static_cast<int64_t>(threads_.size()) - busy_;
  const int64_t waiting = static_cast<int64_t>(queue_.size()) - free_threads;
  return waiting >= queue_depth_;
}

absl::Status WorkerPool::TrySubmit(std::function<void()> task) {
  {
    MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError(absl::StrCat(name_, " pool is shutting down"));
    if (Full()) {
      return absl::ResourceExhaustedError(
          absl::StrCat(name_, " pool saturated: ", threads_.size(), " threads busy and ",
                       queue_depth_, " tasks queued (the queue depth); retry later"));
    }
    queue_.push_back(std::move(task));
  }
  work_available_.Signal();
  return absl::OkStatus();
}

bool WorkerPool::Saturated() const {
  MutexLock lock(&mu_);
  return stopping_ || Full();
}

size_t WorkerPool::queued() const {
  MutexLock lock(&mu_);
  return queue_.size();
}

void WorkerPool::RunWorker() {
  for (;;) {
    std::function<void()> task;
    {
      MutexLock lock(&mu_);
      while (!stopping_ && queue_.empty()) work_available_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping, and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    task();
    MutexLock lock(&mu_);
    --busy_;
  }
}

void WorkerPool::Shutdown() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  work_available_.SignalAll();
  MutexLock join_lock(&join_mu_);
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

}  // namespace gearkv::server
