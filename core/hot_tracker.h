#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/clock.h"

namespace podcache {

// Decides which keys owned by other peers deserve a hot copy here, by access rate.
//
// The rule: a key is hot when this node has recorded at least `promote_hits` requests for it in the
// current window plus the previous one (windows are `window_ms` long and aligned to the clock), so
// "N requests within at most two windows". A key asked for once per window never becomes hot with
// promote_hits >= 3; a burst of N requests makes it hot at the N-th. Counts live in count-min
// sketches (4 rows of 8-bit saturating counters), so memory is fixed whatever the number of keys
// and an estimate is too high rather than too low (see below for the exception).
//
// Thread-safe and lock-free, because every remote Get records here: three sketches take turns
// (the current window's, the previous one's, and the next one's, cleared in advance by the thread
// that moves the window on). Counters are relaxed atomics incremented without a CAS loop, so two
// racing increments of one counter may count once: under contention an estimate may be a little
// low, which only delays a promotion.
class HotTracker {
 public:
  HotTracker(const Clock* clock, int promote_hits, Millis window_ms, size_t width = 4096);

  // Records one request for a key with this hash and returns whether the key is now hot.
  bool RecordAndCheck(uint64_t hash);
  // Whether the key is hot, without recording.
  bool IsHot(uint64_t hash);
  // The current estimate of requests in the current and previous window.
  uint32_t Estimate(uint64_t hash);

 private:
  static constexpr int kRows = 4;
  static constexpr int kSketches = 3;
  // The number of the current window, after moving it on if the clock did.
  int64_t Advance();
  std::atomic<uint8_t>* Sketch(int64_t window) { return sketches_[window % kSketches].get(); }
  void Clear(int64_t window);
  uint32_t EstimateIn(int64_t window, uint64_t hash);
  size_t Index(int row, uint64_t hash) const;

  const Clock* clock_;
  const uint32_t promote_hits_;
  const Millis window_ms_;
  const size_t width_;           // power of two
  std::atomic<int64_t> window_;  // number of the current window (time / window_ms)
  std::unique_ptr<std::atomic<uint8_t>[]> sketches_[kSketches];
};

}  // namespace podcache
