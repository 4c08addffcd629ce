#include "core/scheduler.h"

namespace podcache {

Scheduler::TaskId TaskQueue::Add(Millis when, std::function<void()> fn) {
  MutexLock lock(&mu_);
  uint64_t id = next_id_++;
  tasks_.emplace(std::make_pair(when, id), std::move(fn));
  when_by_id_.emplace(id, when);
  return id;
}

bool TaskQueue::Remove(Scheduler::TaskId id) {
  MutexLock lock(&mu_);
  auto it = when_by_id_.find(id);
  if (it == when_by_id_.end()) return false;
  tasks_.erase({it->second, id});
  when_by_id_.erase(it);
  return true;
}

bool TaskQueue::PopDue(Millis now, std::function<void()>* fn) {
  MutexLock lock(&mu_);
  if (tasks_.empty() || tasks_.begin()->first.first > now) return false;
  auto it = tasks_.begin();
  when_by_id_.erase(it->first.second);
  *fn = std::move(it->second);
  tasks_.erase(it);
  return true;
}

Millis TaskQueue::NextDue() const {
  MutexLock lock(&mu_);
  return tasks_.empty() ? kNoDeadline : tasks_.begin()->first.first;
}

size_t TaskQueue::size() const {
  MutexLock lock(&mu_);
  return tasks_.size();
}

void TaskQueue::Clear() {
  std::map<std::pair<Millis, uint64_t>, std::function<void()>> dropped;
  {
    MutexLock lock(&mu_);
    dropped.swap(tasks_);
    when_by_id_.clear();
  }
  // `dropped` is destroyed outside the lock: task destructors may call back into the queue.
}

ThreadScheduler::~ThreadScheduler() { Stop(); }

void ThreadScheduler::Start() {
  MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ThreadScheduler::Stop() {
  {
    MutexLock lock(&mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.NotifyAll();
  thread_.join();
  queue_.Clear();
}

Scheduler::TaskId ThreadScheduler::RunAt(Millis when, std::function<void()> fn) {
  TaskId id = queue_.Add(when, std::move(fn));
  // Most tasks are deadlines that fall after the loop's next wake-up anyway: waking the loop for
  // them would cost a context switch per request. sleep_until_ is read after the Add, and the loop
  // writes it under mu_ right after its NextDue(), so a task the loop did not see is always
  // compared with the time the loop sleeps until (or with kNoDeadline while it is awake).
  if (when < sleep_until_.load()) {
    // Taking mu_ orders this notify after the loop's check of NextDue(), so no wake-up is lost.
    { MutexLock lock(&mu_); }
    cv_.NotifyOne();
  }
  return id;
}

bool ThreadScheduler::Cancel(TaskId id) { return queue_.Remove(id); }

void ThreadScheduler::Loop() {
  MutexLock lock(&mu_);
  while (!stopping_) {
    sleep_until_.store(kNoDeadline);  // awake: every RunAt notifies (cheap, nobody waits)
    std::function<void()> fn;
    if (queue_.PopDue(clock().NowMs(), &fn)) {
      mu_.Unlock();
      fn();
      fn = nullptr;
      mu_.Lock();
      continue;
    }
    Millis next = queue_.NextDue();
    sleep_until_.store(next);
    if (next == kNoDeadline) {
      cv_.Wait(&mu_);
    } else {
      cv_.WaitFor(&mu_, std::chrono::milliseconds(next - clock().NowMs()));
    }
  }
}

}  // namespace podcache
