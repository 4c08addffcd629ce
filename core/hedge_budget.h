#pragma once

#include <atomic>
#include <cstdint>

namespace podcache {

// Bounds hedged loads (a local load started because the owner is slow) to a share of recent
// fetches, so hedging cannot double the load on a slow database (Finagle's retry budget, in whole
// units): every fetch sent to a peer that is up deposits 1, a hedge withdraws kCost, and the
// balance is capped at kCap, so only recent fetches count and a burst stays small. The budget
// starts full: a node that has just started may hedge kCap / kCost times at once. Thread-safe,
// lock-free.
class HedgeBudget {
 public:
  static constexpr int64_t kCost = 10;         // at most 1 hedge per 10 fetches (10%)
  static constexpr int64_t kCap = 10 * kCost;  // at most 10 hedges in a burst

  void Deposit() {
    int64_t b = balance_.load(std::memory_order_relaxed);
    while (b < kCap && !balance_.compare_exchange_weak(b, b + 1, std::memory_order_relaxed)) {
    }
  }
  // True (and the cost taken) when the budget allows one more hedge now.
  bool TryWithdraw() {
    int64_t b = balance_.load(std::memory_order_relaxed);
    while (b >= kCost) {
      if (balance_.compare_exchange_weak(b, b - kCost, std::memory_order_relaxed)) return true;
    }
    return false;
  }

 private:
  std::atomic<int64_t> balance_{kCap};
};

}  // namespace podcache
