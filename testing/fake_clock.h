#pragma once

#include <atomic>

#include "core/clock.h"

namespace podcache {

// A clock that only moves when a test moves it, so TTL and rate tests never sleep. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Millis start = 1'000'000) : now_(start) {}
  Millis NowMs() const override { return now_.load(std::memory_order_acquire); }
  void Advance(Millis ms) { now_.fetch_add(ms, std::memory_order_acq_rel); }
  void Set(Millis ms) { now_.store(ms, std::memory_order_release); }

 private:
  std::atomic<Millis> now_;
};

}  // namespace podcache
