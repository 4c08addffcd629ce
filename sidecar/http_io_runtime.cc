#include "sidecar/http_io_runtime.h"

#include <pthread.h>
#include <signal.h>

namespace podcache {
namespace {

// Owns the process's runtime; its destructor, at exit, stops it.
struct RuntimeHolder {
  Mutex mu;
  std::shared_ptr<HttpIoRuntime> runtime GUARDED_BY(mu);
  // Without the lock (destructors are not analysed): at exit nobody else calls Get(), and a stop
  // hook that did would deadlock on it.
  ~RuntimeHolder() {
    if (runtime != nullptr) runtime->Stop();
  }
};

}  // namespace

std::shared_ptr<HttpIoRuntime> HttpIoRuntime::Get() {
  static RuntimeHolder holder;
  MutexLock lock(&holder.mu);
  if (holder.runtime == nullptr) {
    holder.runtime = std::make_shared<HttpIoRuntime>();
    holder.runtime->Start();
  }
  return holder.runtime;
}

HttpIoRuntime::HttpIoRuntime() : context_(kThreads) {}

HttpIoRuntime::~HttpIoRuntime() { Stop(); }

bool HttpIoRuntime::running() const {
  MutexLock lock(&mu_);
  return running_;
}

void HttpIoRuntime::Start() {
  work_.emplace(context_.get_executor());
  {
    MutexLock lock(&mu_);
    running_ = true;
  }
  for (int i = 0; i < kThreads; ++i) {
    threads_.emplace_back([this] {
      // Signals belong to the process's main thread (the sidecar takes SIGTERM with sigwait).
      sigset_t all;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, nullptr);
      pthread_setname_np(pthread_self(), "http-loader-io");
      context_.run();
    });
  }
}

uint64_t HttpIoRuntime::AddStopHook(std::function<void()> hook) {
  MutexLock lock(&mu_);
  uint64_t id = next_hook_id_++;
  stop_hooks_.emplace(id, std::move(hook));
  return id;
}

void HttpIoRuntime::RemoveStopHook(uint64_t id) {
  MutexLock lock(&mu_);
  stop_hooks_.erase(id);
}

void HttpIoRuntime::Stop() {
  std::map<uint64_t, std::function<void()>> hooks;
  {
    MutexLock lock(&mu_);
    if (!running_) return;
    running_ = false;
    hooks.swap(stop_hooks_);
  }
  for (auto& [id, hook] : hooks) hook();
  work_.reset();
  for (std::thread& t : threads_) {
    // A stop from one of the threads themselves (exit() in a callback) cannot join that thread.
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else {
      t.join();
    }
  }
  threads_.clear();
}

}  // namespace podcache
