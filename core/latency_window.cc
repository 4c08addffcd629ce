#include "core/latency_window.h"

#include <bit>

namespace podcache {

LatencyWindow::LatencyWindow(const Clock* clock, Millis window_ms)
    : clock_(clock), window_ms_(window_ms < 1 ? 1 : window_ms) {
  SpinLockHolder hold(&lock_);
  window_start_ = clock_->NowMs();
}

int LatencyWindow::BucketOf(Millis v) {
  if (v < 32) return v < 0 ? 0 : static_cast<int>(v);
  uint64_t u = static_cast<uint64_t>(v);
  int log2 = 63 - std::countl_zero(u);  // >= 5
  int sub = static_cast<int>((u >> (log2 - 3)) & 7);
  int b = 32 + 8 * (log2 - 5) + sub;
  return b < kNumBuckets ? b : kNumBuckets - 1;
}

Millis LatencyWindow::UpperBoundOf(int bucket) {
  if (bucket < 32) return bucket;
  int log2 = 5 + (bucket - 32) / 8;
  int sub = (bucket - 32) % 8;
  // Bucket covers [(8 + sub) << (log2 - 3), (9 + sub) << (log2 - 3)).
  return (Millis{9 + sub} << (log2 - 3)) - 1;
}

void LatencyWindow::RotateLocked(Millis now) const {
  if (now - window_start_ < window_ms_) return;
  if (now - window_start_ >= 2 * window_ms_) {
    previous_.fill(0);
    previous_count_ = 0;
  } else {
    previous_ = current_;
    previous_count_ = current_count_;
  }
  current_.fill(0);
  current_count_ = 0;
  window_start_ = now;
}

void LatencyWindow::Record(Millis latency_ms) {
  int b = BucketOf(latency_ms);
  Millis now = clock_->NowMs();
  SpinLockHolder hold(&lock_);
  RotateLocked(now);
  ++current_[b];
  ++current_count_;
}

uint64_t LatencyWindow::Samples() const {
  Millis now = clock_->NowMs();
  SpinLockHolder hold(&lock_);
  RotateLocked(now);
  return current_count_ + previous_count_;
}

Millis LatencyWindow::Quantile(double q, uint64_t min_samples) const {
  Millis now = clock_->NowMs();
  SpinLockHolder hold(&lock_);
  RotateLocked(now);
  uint64_t total = current_count_ + previous_count_;
  if (total == 0 || total < min_samples) return 0;
  if (q > 1) q = 1;
  // The smallest bucket at which at least q of the samples are counted.
  uint64_t need = static_cast<uint64_t>(q * static_cast<double>(total));
  if (need == 0) need = 1;
  uint64_t seen = 0;
  for (int b = 0; b < kNumBuckets; ++b) {
    seen += current_[b] + previous_[b];
    if (seen >= need) return UpperBoundOf(b);
  }
  return UpperBoundOf(kNumBuckets - 1);
}

}  // namespace podcache
