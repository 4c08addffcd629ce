#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <unordered_map>
#include <utility>

#include "core/clock.h"
#include "core/mutex.h"

namespace podcache {

// Runs callbacks at a point of a Clock's time: waiter deadlines, load deadlines, retries, the
// expiry reaper. Thread-safe. Tasks run one at a time on the scheduler's own thread (or, for the
// tests' ManualScheduler, on the thread that calls RunDue), never while the caller of RunAt holds
// it.
class Scheduler {
 public:
  using TaskId = uint64_t;
  virtual ~Scheduler() = default;

  // Schedules `fn` to run once at `when` (or soon after). Returns an id for Cancel.
  virtual TaskId RunAt(Millis when, std::function<void()> fn) = 0;
  // Removes a task that has not started. Returns false if it ran, is running, or never existed.
  virtual bool Cancel(TaskId id) = 0;
  virtual const Clock& clock() const = 0;

  TaskId RunAfter(Millis delay, std::function<void()> fn) {
    return RunAt(SaturatingAdd(clock().NowMs(), delay), std::move(fn));
  }
};

// The ordered set of pending tasks both schedulers share. Thread-safe.
class TaskQueue {
 public:
  Scheduler::TaskId Add(Millis when, std::function<void()> fn);
  bool Remove(Scheduler::TaskId id);
  // Removes and returns the earliest task due at `now`, if any.
  bool PopDue(Millis now, std::function<void()>* fn);
  // Earliest due time, or kNoDeadline.
  Millis NextDue() const;
  size_t size() const;
  void Clear();

 private:
  mutable Mutex mu_;
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  std::map<std::pair<Millis, uint64_t>, std::function<void()>> tasks_ GUARDED_BY(mu_);
  std::unordered_map<uint64_t, Millis> when_by_id_ GUARDED_BY(mu_);
};

// A scheduler with one thread on the system clock. Owner calls Start() and Stop(); Stop() joins the
// thread and drops tasks that have not run.
class ThreadScheduler final : public Scheduler {
 public:
  ThreadScheduler() = default;
  ~ThreadScheduler() override;
  void Start();
  void Stop();

  TaskId RunAt(Millis when, std::function<void()> fn) override;
  bool Cancel(TaskId id) override;
  const Clock& clock() const override { return *SystemClock::Get(); }

 private:
  void Loop();

  TaskQueue queue_;
  Mutex mu_;
  CondVar cv_;
  std::atomic<Millis> sleep_until_{kNoDeadline};  // when the loop wakes next; kNoDeadline: awake
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // set under mu_ by Start(); joined by Stop() (the owner's thread)
};

}  // namespace podcache
