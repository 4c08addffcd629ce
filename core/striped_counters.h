#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace podcache {

// Counters that many threads bump on the hot path: each thread adds to its own cache-line-aligned
// stripe (no line ping-pong between cores), and a reader sums the stripes. Thread-safe; a sum
// taken while writers run is a consistent-enough snapshot for metrics.
template <size_t N>
class StripedCounters {
 public:
  void Add(size_t counter, uint64_t n = 1) {
    stripes_[ThreadStripe()].v[counter].fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Sum(size_t counter) const {
    uint64_t total = 0;
    for (const auto& s : stripes_) total += s.v[counter].load(std::memory_order_relaxed);
    return total;
  }

 private:
  static constexpr size_t kStripes = 16;
  struct alignas(64) Stripe {
    std::array<std::atomic<uint64_t>, N> v{};
  };
  static size_t ThreadStripe() {
    static std::atomic<size_t> next{0};
    thread_local size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
    return stripe;
  }
  std::array<Stripe, kStripes> stripes_{};
};

}  // namespace podcache
