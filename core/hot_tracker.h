#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "core/clock.h"

namespace podcache {

// Decides which keys owned by other peers deserve a hot copy here, by access rate.
//
// The rule: a key is hot when this node has recorded at least `promote_hits` requests for it in the
// current window plus the previous one (windows are `window_ms` long and aligned to the clock), so
// "N requests within at most two windows". A key asked for once per window never becomes hot with
// promote_hits >= 3; a burst of N requests makes it hot at the N-th. Counts live in two count-min
// sketches (4 rows of 8-bit saturating counters), so memory is fixed whatever the number of keys
// and an estimate can only be too high, never too low. Thread-safe.
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
  void RotateLocked(Millis now);
  uint32_t EstimateLocked(uint64_t hash) const;
  size_t Index(int row, uint64_t hash) const;

  const Clock* clock_;
  const uint32_t promote_hits_;
  const Millis window_ms_;
  const size_t width_;  // power of two
  std::mutex mu_;
  Millis window_start_ = 0;
  std::unique_ptr<uint8_t[]> current_;
  std::unique_ptr<uint8_t[]> previous_;
};

}  // namespace podcache
