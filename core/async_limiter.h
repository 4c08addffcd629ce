#pragma once

#include <cstddef>
#include <deque>
#include <functional>

#include "core/mutex.h"

namespace podcache {

// Bounds how many asynchronous operations run at once, with a bounded FIFO queue for the rest.
// No thread waits: a queued operation is started by the Release() of one that finishes.
// Thread-safe. Operations start on the thread that calls Submit() (when a slot is free) or
// Release() (when one was queued); nested starts on one thread are run one after the other, so
// operations that finish synchronously cannot recurse without bound.
class AsyncLimiter {
 public:
  AsyncLimiter(int limit, size_t max_queue) : limit_(limit), max_queue_(max_queue) {}

  // Starts `op` now or queues it. Returns false (and drops `op`) when the queue is full.
  // `op` must eventually lead to exactly one Release().
  bool Submit(std::function<void()> op);
  // Marks one operation finished and starts the next queued one, if any.
  void Release();

  int active() const;
  size_t queued() const;

 private:
  static void RunTrampolined(std::function<void()> op);

  const int limit_;
  const size_t max_queue_;
  mutable Mutex mu_;
  int active_ GUARDED_BY(mu_) = 0;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
};

}  // namespace podcache
