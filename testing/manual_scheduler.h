#pragma once

#include <cstddef>
#include <functional>
#include <utility>

#include "core/scheduler.h"
#include "testing/fake_clock.h"

namespace podcache {

// A scheduler for tests on a FakeClock: tasks run only when the test calls RunDue(), on the
// test's thread. Thread-safe like every Scheduler.
class ManualScheduler final : public Scheduler {
 public:
  explicit ManualScheduler(FakeClock* clock) : clock_(clock) {}
  TaskId RunAt(Millis when, std::function<void()> fn) override {
    return queue_.Add(when, std::move(fn));
  }
  bool Cancel(TaskId id) override { return queue_.Remove(id); }
  const Clock& clock() const override { return *clock_; }

  // Runs every task due at the clock's current time; returns how many ran.
  int RunDue();
  // Advances the clock by `ms` and runs what became due.
  int AdvanceAndRun(Millis ms) {
    clock_->Advance(ms);
    return RunDue();
  }
  size_t pending() const { return queue_.size(); }

 private:
  FakeClock* clock_;
  TaskQueue queue_;
};

}  // namespace podcache
