#include "transport/off_grpc_thread.h"

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
    cv_.NotifyOne();
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
    }
  }
  Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> tasks_ GUARDED_BY(mu_);
};

}  // namespace

void MarkGrpcThread() { t_grpc_thread = true; }
bool OnGrpcThread() { return t_grpc_thread; }

void RunOffGrpcThread(std::function<void()> fn) {
  if (!t_grpc_thread) return fn();
  static Releaser* releaser = new Releaser;
  releaser->Add(std::move(fn));
}

}  // namespace podcache
