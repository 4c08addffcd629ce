#include "core/hot_tracker.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace podcache {

HotTracker::HotTracker(const Clock* clock, int promote_hits, Millis window_ms, size_t width)
    : clock_(clock),
      promote_hits_(static_cast<uint32_t>(std::max(1, promote_hits))),
      window_ms_(std::max<Millis>(1, window_ms)),
      width_(std::bit_ceil(std::max<size_t>(64, width))),
      current_(new uint8_t[kRows * width_]()),
      previous_(new uint8_t[kRows * width_]()) {
  window_start_ = clock_->NowMs() / window_ms_ * window_ms_;
}

size_t HotTracker::Index(int row, uint64_t hash) const {
  // Row r uses a different 16-bit slice of the hash, mixed with the row number.
  uint64_t h = (hash >> (row * 16)) ^ (hash * (0x9E3779B97F4A7C15ull + 2 * row));
  return row * width_ + (h & (width_ - 1));
}

void HotTracker::RotateLocked(Millis now) {
  Millis start = now / window_ms_ * window_ms_;
  if (start == window_start_) return;
  if (start - window_start_ == window_ms_) {
    std::swap(current_, previous_);
  } else {
    std::memset(previous_.get(), 0, kRows * width_);  // more than a window went by
  }
  std::memset(current_.get(), 0, kRows * width_);
  window_start_ = start;
}

uint32_t HotTracker::EstimateLocked(uint64_t hash) const {
  uint32_t est = UINT32_MAX;
  for (int r = 0; r < kRows; ++r) {
    size_t i = Index(r, hash);
    est = std::min<uint32_t>(est, uint32_t{current_[i]} + previous_[i]);
  }
  return est;
}

bool HotTracker::RecordAndCheck(uint64_t hash) {
  std::lock_guard lock(mu_);
  RotateLocked(clock_->NowMs());
  for (int r = 0; r < kRows; ++r) {
    uint8_t& c = current_[Index(r, hash)];
    if (c < UINT8_MAX) ++c;
  }
  return EstimateLocked(hash) >= promote_hits_;
}

bool HotTracker::IsHot(uint64_t hash) { return Estimate(hash) >= promote_hits_; }

uint32_t HotTracker::Estimate(uint64_t hash) {
  std::lock_guard lock(mu_);
  RotateLocked(clock_->NowMs());
  return EstimateLocked(hash);
}

}  // namespace podcache
