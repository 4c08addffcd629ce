#pragma once

#include <array>
#include <cstdint>

#include "core/clock.h"
#include "core/spin_lock.h"

namespace podcache {

// Recent latencies of one kind of call (a peer's answers, a keyspace's loads), for decisions that
// follow what is normal now: the hedge delay, the time a local load needs. Keeps a histogram of the
// current window and of the one before it (each `window_ms` long), so a quantile covers between one
// and two windows of calls and forgets old behaviour. Buckets are exact up to 32 ms and then 8 per
// power of two (at most 12.5% too high). Thread-safe; Record is a short spin-locked update.
class LatencyWindow {
 public:
  explicit LatencyWindow(const Clock* clock, Millis window_ms = 10000);

  void Record(Millis latency_ms);
  // The `q` quantile (0 < q <= 1) of the latencies recorded in the last one to two windows, as the
  // upper bound of its bucket; 0 when fewer than `min_samples` were recorded.
  Millis Quantile(double q, uint64_t min_samples = 20) const;
  // How many latencies the quantile would be taken over now.
  uint64_t Samples() const;

  static constexpr int kNumBuckets = 32 + 8 * 27;  // up to 2^32 ms

 private:
  using Histogram = std::array<uint32_t, kNumBuckets>;
  static int BucketOf(Millis v);
  static Millis UpperBoundOf(int bucket);
  // Starts a new window when the current one is over (a read may do it too: the fields are
  // mutable).
  void RotateLocked(Millis now) const REQUIRES(lock_);

  const Clock* const clock_;
  const Millis window_ms_;
  mutable SpinLock lock_;
  mutable Millis window_start_ GUARDED_BY(lock_) = 0;
  mutable Histogram current_ GUARDED_BY(lock_) = {};
  mutable Histogram previous_ GUARDED_BY(lock_) = {};
  mutable uint64_t current_count_ GUARDED_BY(lock_) = 0;
  mutable uint64_t previous_count_ GUARDED_BY(lock_) = 0;
};

}  // namespace podcache
