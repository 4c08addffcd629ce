#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "core/mutex.h"

namespace podcache {

// The one io_context of every HTTP loader in the process, run by kThreads threads (however many
// keyspaces there are). Started by the first Get(), stopped when the process exits: the stop
// hooks close every socket and timer, then the threads run out of work and are joined.
// Thread-safe.
class HttpIoRuntime {
 public:
  static constexpr int kThreads = 2;

  // The running runtime (started on first use).
  static std::shared_ptr<HttpIoRuntime> Get();

  HttpIoRuntime();
  ~HttpIoRuntime();
  HttpIoRuntime(const HttpIoRuntime&) = delete;
  HttpIoRuntime& operator=(const HttpIoRuntime&) = delete;

  boost::asio::io_context& context() { return context_; }
  // False once Stop() began: nothing posted afterwards would run.
  bool running() const;

  // `hook` runs once, on the thread that stops the runtime, before the threads are joined. It must
  // make its users close their sockets and timers soon. Returns an id for RemoveStopHook.
  uint64_t AddStopHook(std::function<void()> hook);
  void RemoveStopHook(uint64_t id);

  // Runs the stop hooks, lets the threads finish what is left and joins them. Idempotent.
  void Stop();

 private:
  void Start();

  boost::asio::io_context context_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;

  mutable Mutex mu_;
  bool running_ GUARDED_BY(mu_) = false;
  uint64_t next_hook_id_ GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::function<void()>> stop_hooks_ GUARDED_BY(mu_);
};

}  // namespace podcache
