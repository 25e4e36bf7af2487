// A fixed set of threads running submitted tasks in FIFO order, with a bounded queue: when
// `queue_depth` tasks are already waiting, TrySubmit refuses with RESOURCE_EXHAUSTED instead of
// queueing without bound. The service runs every compression, decompression and store access
// here, never on gRPC's threads.
//
// Thread-safety: every method may be called from any thread. Tasks must not throw.
#ifndef GEARKV_SERVER_SRC_WORKER_POOL_H_
#define GEARKV_SERVER_SRC_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "gearkv/base/mutex.h"

namespace gearkv::server {

class WorkerPool {
 public:
  // `name` appears in error messages ("codec pool saturated ..."). threads >= 1,
  // queue_depth >= 0 (0: a task is accepted only when a thread is idle).
  WorkerPool(std::string name, int threads, int queue_depth);
  // Shutdown(), then joins.
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`. RESOURCE_EXHAUSTED (saying the queue depth) when the queue is full,
  // UNAVAILABLE after Shutdown.
  [[nodiscard]] absl::Status TrySubmit(std::function<void()> task);

  // Whether TrySubmit would currently refuse (a cheap early check; the answer may be stale).
  bool Saturated() const;

  // Stops accepting tasks, runs every task already queued, and joins the threads. Idempotent.
  void Shutdown();

  const std::string& name() const { return name_; }
  int threads() const { return static_cast<int>(threads_.size()); }
  int queue_depth() const { return queue_depth_; }
  // Tasks waiting (not yet started).
  size_t queued() const;

 private:
  void RunWorker();
  bool Full() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string name_;
  const int queue_depth_;
  mutable Mutex mu_;
  CondVar work_available_;  // queue_ not empty, or stopping_
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int busy_ ABSL_GUARDED_BY(mu_) = 0;  // threads running a task
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // fixed after construction; joined under join_mu_
  Mutex join_mu_;                     // serialises Shutdown's join
};

}  // namespace gearkv::server

#endif  // GEARKV_SERVER_SRC_WORKER_POOL_H_
