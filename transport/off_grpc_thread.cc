#include "transport/off_grpc_thread.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <thread>

#include "core/mutex.h"

namespace podcache {
namespace {

thread_local bool t_grpc_thread = false;

// One thread that runs what gRPC's threads hand it. Never destroyed (like SystemClock): a task may
// arrive while the process exits.
class Releaser {
 public:
  Releaser() {
    std::thread([this] { Loop(); }).detach();
  }
  void Add(std::function<void()> fn) {
    MutexLock lock(&mu_);
    // Bounded by the peer clients alive at once (one task per client that dies on a gRPC thread).
    tasks_.push_back(std::move(fn));
    ++added_;
    cv_.NotifyAll();
  }
  bool WaitIdle(long long timeout_ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    MutexLock lock(&mu_);
    uint64_t target = added_;
    while (done_ < target) {
      if (!cv_.WaitUntil(&mu_, until)) return done_ >= target;
    }
    return true;
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> fn;
      {
        MutexLock lock(&mu_);
        while (tasks_.empty()) cv_.Wait(&mu_);
        fn = std::move(tasks_.front());
        tasks_.pop_front();
      }
      fn();
      fn = nullptr;  // what it held is released before the task counts as done
      MutexLock lock(&mu_);
      ++done_;
      cv_.NotifyAll();
    }
  }
  Mutex mu_;
  CondVar cv_;  // tasks added (the loop waits), tasks done (WaitIdle waits)
  std::deque<std::function<void()>> tasks_ GUARDED_BY(mu_);
  uint64_t added_ GUARDED_BY(mu_) = 0;
  uint64_t done_ GUARDED_BY(mu_) = 0;
};

}  // namespace

void MarkGrpcThread() { t_grpc_thread = true; }
bool OnGrpcThread() { return t_grpc_thread; }

static Releaser& TheReleaser() {
  static Releaser* releaser = new Releaser;
  return *releaser;
}

void RunOffGrpcThread(std::function<void()> fn) {
  if (!t_grpc_thread) return fn();
  TheReleaser().Add(std::move(fn));
}

bool WaitOffGrpcThreadIdle(long long timeout_ms) { return TheReleaser().WaitIdle(timeout_ms); }

}  // namespace podcache
