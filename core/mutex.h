#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "core/thread_annotations.h"

namespace podcache {

// The mutex of podcache's own code: a std::mutex that Clang's thread-safety analysis can see
// (core/thread_annotations.h), as LevelDB's port::Mutex. Members it protects are declared
// GUARDED_BY(mu_), functions that expect it held REQUIRES(mu_). No overhead: every call is an
// inline call of the std::mutex below, so TSan and the ASan build see plain pthread mutexes.
//
//   Mutex mu_;
//   int count_ GUARDED_BY(mu_) = 0;
//   void Bump() { MutexLock lock(&mu_); ++count_; }
//
// A section that must drop the lock for a while inside a MutexLock's scope unlocks and re-locks
// the Mutex itself (mu_.Unlock(); ...; mu_.Lock();); the analysis follows that.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // Tells the analysis the lock is held where it cannot see it (nothing is checked at run time).
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for its scope (std::lock_guard for Mutex).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable used with a Mutex the caller holds (std::condition_variable underneath).
// The waits take no predicate: the caller loops on its condition, where the analysis can check
// that the members it reads are read with the lock held:
//
//   MutexLock lock(&mu_);
//   while (!stopping_) cv_.Wait(&mu_);
//
// Like std::condition_variable, a wait may return without a notification (spuriously).
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases `mu`, waits for a notification and takes `mu` again.
  void Wait(Mutex* mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // the caller's lock again
  }
  // As Wait, until `deadline` at the latest. False when the deadline passed.
  template <typename Clock, typename Duration>
  bool WaitUntil(Mutex* mu, const std::chrono::time_point<Clock, Duration>& deadline) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    bool notified = cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();
    return notified;
  }
  // As Wait, for `timeout` at most. False when the time ran out.
  template <typename Rep, typename Period>
  bool WaitFor(Mutex* mu, const std::chrono::duration<Rep, Period>& timeout) REQUIRES(mu) {
    return WaitUntil(mu, std::chrono::steady_clock::now() + timeout);
  }

  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace podcache
