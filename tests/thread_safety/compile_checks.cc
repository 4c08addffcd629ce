// Proof that `make thread-safety` catches what it promises: each CASE_* is compiled on its own by
// clang with the PODCACHE_THREAD_SAFETY flags (tests/thread_safety/CMakeLists.txt). CASE_GOOD, the
// patterns the code base uses, must compile; every other case must fail with the error its test
// expects. Never linked or run.
#include <chrono>

#include "core/mutex.h"
#include "core/spin_lock.h"
#include "core/status.h"

namespace podcache {

class Counter {
 public:
  void Bump() {
    MutexLock lock(&mu_);
    BumpLocked();
  }
  int Get() const {
    MutexLock lock(&mu_);
    return count_;
  }
  // The lock dropped and taken again inside a MutexLock's scope, and a wait on a CondVar.
  void WaitForStop() {
    MutexLock lock(&mu_);
    while (!stopping_) {
      mu_.Unlock();
      mu_.Lock();
      cv_.WaitFor(&mu_, std::chrono::milliseconds(1));
    }
  }
  void Stop() {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
    }
    cv_.NotifyAll();
  }
  void Add(int n) {
    SpinLockHolder lock(&spin_);
    spun_ += n;
  }
  Status Check() const { return OkStatus(); }

#if defined(CASE_UNGUARDED_WRITE)
  void Bad() { ++count_; }
#elif defined(CASE_UNGUARDED_READ)
  int Bad() const { return count_; }
#elif defined(CASE_REQUIRES)
  void Bad() { BumpLocked(); }
#elif defined(CASE_NOT_RELEASED)
  void Bad() { mu_.Lock(); }
#elif defined(CASE_WAIT_UNLOCKED)
  void Bad() { cv_.Wait(&mu_); }
#elif defined(CASE_SPINLOCK)
  void Bad() { spun_ = 0; }
#elif defined(CASE_IGNORED_STATUS)
  void Bad() { Check(); }
#endif

 private:
  void BumpLocked() REQUIRES(mu_) { ++count_; }

  mutable Mutex mu_;
  CondVar cv_;
  int count_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  SpinLock spin_;
  int spun_ GUARDED_BY(spin_) = 0;
};

// A deliberate drop says so.
inline void Ignore(const Counter& c) { c.Check().IgnoreError(); }

}  // namespace podcache
