#include "core/hot_tracker.h"

#include <algorithm>
#include <bit>

namespace podcache {

HotTracker::HotTracker(const Clock* clock, int promote_hits, Millis window_ms, size_t width)
    : clock_(clock),
      promote_hits_(static_cast<uint32_t>(std::max(1, promote_hits))),
      window_ms_(std::max<Millis>(1, window_ms)),
      width_(std::bit_ceil(std::max<size_t>(64, width))),
      window_(clock_->NowMs() / window_ms_) {
  for (auto& sketch : sketches_) sketch.reset(new std::atomic<uint8_t>[kRows * width_]());
}

size_t HotTracker::Index(int row, uint64_t hash) const {
  // Row r uses a different 16-bit slice of the hash, mixed with the row number.
  uint64_t h = (hash >> (row * 16)) ^ (hash * (0x9E3779B97F4A7C15ull + 2 * row));
  return row * width_ + (h & (width_ - 1));
}

void HotTracker::Clear(int64_t window) {
  std::atomic<uint8_t>* sketch = Sketch(window);
  for (size_t i = 0; i < kRows * width_; ++i) sketch[i].store(0, std::memory_order_relaxed);
}

int64_t HotTracker::Advance() {
  int64_t now = clock_->NowMs() / window_ms_;
  int64_t seen = window_.load(std::memory_order_acquire);
  while (now > seen) {
    if (window_.compare_exchange_weak(seen, now, std::memory_order_acq_rel)) {
      // This thread moved the window on. The sketch of window now+1 is the one of now-2, which
      // nobody reads any more: clear it for the next move. After an idle gap the current and
      // previous sketches hold counts of windows long gone: clear them too.
      Clear(now + 1);
      if (now - seen >= 2) Clear(now);
      if (now - seen >= 3) Clear(now - 1);
      return now;
    }
  }
  return seen;
}

uint32_t HotTracker::EstimateIn(int64_t window, uint64_t hash) {
  std::atomic<uint8_t>* current = Sketch(window);
  std::atomic<uint8_t>* previous = Sketch(window + kSketches - 1);
  uint32_t est = UINT32_MAX;
  for (int r = 0; r < kRows; ++r) {
    size_t i = Index(r, hash);
    est = std::min<uint32_t>(est, uint32_t{current[i].load(std::memory_order_relaxed)} +
                                      previous[i].load(std::memory_order_relaxed));
  }
  return est;
}

bool HotTracker::RecordAndCheck(uint64_t hash) {
  int64_t window = Advance();
  std::atomic<uint8_t>* current = Sketch(window);
  for (int r = 0; r < kRows; ++r) {
    std::atomic<uint8_t>& c = current[Index(r, hash)];
    uint8_t v = c.load(std::memory_order_relaxed);
    if (v < UINT8_MAX) c.store(v + 1, std::memory_order_relaxed);
  }
  return EstimateIn(window, hash) >= promote_hits_;
}

bool HotTracker::IsHot(uint64_t hash) { return Estimate(hash) >= promote_hits_; }

uint32_t HotTracker::Estimate(uint64_t hash) { return EstimateIn(Advance(), hash); }

}  // namespace podcache
