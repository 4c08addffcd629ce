#pragma once

#include <atomic>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "core/thread_annotations.h"

namespace podcache {

// A lock for critical sections of a few dozen nanoseconds (a store shard's index update). A
// contended std::mutex puts the waiter to sleep in the kernel, and a futex sleep and wake-up costs
// microseconds, far more than the section it waits for. This lock spins briefly (with the CPU's
// pause hint), then yields the CPU, so a waiter never sleeps but does not starve a preempted
// holder on a small machine either. Meets the Lockable requirements, and is a capability for the
// thread-safety analysis (core/thread_annotations.h): hold it with SpinLockHolder, which the
// analysis sees (std::lock_guard works too, but the analysis cannot see it).
class CAPABILITY("spinlock") SpinLock {
 public:
  void lock() ACQUIRE() {
    for (int spins = 0; locked_.exchange(true, std::memory_order_acquire); ++spins) {
      // Wait on a plain load so the cache line stays shared until the holder releases it.
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < kSpinsBeforeYield) {
          Pause();
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  bool try_lock() TRY_ACQUIRE(true) { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() RELEASE() { locked_.store(false, std::memory_order_release); }

 private:
  static constexpr int kSpinsBeforeYield = 128;
  static void Pause() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  }
  std::atomic<bool> locked_{false};
};

// Holds a SpinLock for its scope (std::lock_guard that the analysis sees).
class SCOPED_CAPABILITY SpinLockHolder {
 public:
  explicit SpinLockHolder(SpinLock* lock) ACQUIRE(lock) : lock_(lock) { lock_->lock(); }
  ~SpinLockHolder() RELEASE() { lock_->unlock(); }
  SpinLockHolder(const SpinLockHolder&) = delete;
  SpinLockHolder& operator=(const SpinLockHolder&) = delete;

 private:
  SpinLock* const lock_;
};

}  // namespace podcache
