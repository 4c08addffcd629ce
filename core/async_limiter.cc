#include "core/async_limiter.h"

namespace podcache {

namespace {
thread_local std::deque<std::function<void()>>* tl_pending = nullptr;
}  // namespace

void AsyncLimiter::RunTrampolined(std::function<void()> op) {
  if (tl_pending != nullptr) {  // already running operations on this thread: run after them
    tl_pending->push_back(std::move(op));
    return;
  }
  std::deque<std::function<void()>> pending;
  tl_pending = &pending;
  struct Reset {
    ~Reset() { tl_pending = nullptr; }
  } reset;  // operations must not throw, but if one does the thread stays usable
  op();
  while (!pending.empty()) {
    std::function<void()> next = std::move(pending.front());
    pending.pop_front();
    next();
  }
}

bool AsyncLimiter::Submit(std::function<void()> op) {
  {
    MutexLock lock(&mu_);
    if (active_ >= limit_) {
      if (queue_.size() >= max_queue_) return false;
      queue_.push_back(std::move(op));
      return true;
    }
    ++active_;
  }
  RunTrampolined(std::move(op));
  return true;
}

void AsyncLimiter::Release() {
  std::function<void()> next;
  {
    MutexLock lock(&mu_);
    if (queue_.empty()) {
      --active_;
      return;
    }
    next = std::move(queue_.front());  // the finished operation's slot passes to it
    queue_.pop_front();
  }
  RunTrampolined(std::move(next));
}

int AsyncLimiter::active() const {
  MutexLock lock(&mu_);
  return active_;
}

size_t AsyncLimiter::queued() const {
  MutexLock lock(&mu_);
  return queue_.size();
}

}  // namespace podcache
