// WorkerPool: a fixed set of threads for CPU work (decoding chunks, running pipelines,
// evaluating queries). Created by main and passed in; tasks never block on I/O threads.
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace logq {

class WorkerPool {
 public:
  explicit WorkerPool(size_t threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  size_t size() const { return threads_.size(); }

  // Runs fn(i) for i in [0, n) on the pool and the calling thread, returning when all are
  // done. Safe to call from a pool thread (the caller works through the items itself, so
  // nesting cannot deadlock).
  void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::queue<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace logq
