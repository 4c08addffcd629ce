#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace podcache {

// Remembers the hashes of recently evicted keys (the S3-FIFO and SLRU ghosts) in 2 bytes per key: a
// table of 4-slot buckets, each bucket a small FIFO, so the oldest fingerprint in a bucket is
// forgotten first. The bucket comes from the hash's high bits and the 16-bit fingerprint from its
// low bits, so a key that was never evicted matches with a chance of about 4 in 65536. Every byte
// here is taken from the cache's budget, which is why it is this small: on the shifting-hot-set
// trace each 1% of the budget is worth about 0.5% of misses (docs/benchmarks.md). Approximate by
// design (a forgotten or colliding fingerprint only changes which queue a re-inserted key
// enters). Not thread-safe: one store shard owns it.
class GhostFilter {
 public:
  // Sizes the filter to remember about `keys` fingerprints; forgets everything.
  void Resize(size_t keys) {
    buckets_ = std::max<size_t>(1, (keys + kSlots - 1) / kSlots);
    // calloc: a large table comes as fresh zero pages from mmap, so memory is only touched (and
    // resident) as evictions fill it.
    slots_.reset(static_cast<uint16_t*>(std::calloc(buckets_ * kSlots, sizeof(uint16_t))));
    if (!slots_) throw std::bad_alloc();
    capacity_ = buckets_ * kSlots;
  }
  size_t capacity() const { return capacity_; }
  size_t bytes() const { return capacity_ * sizeof(uint16_t); }

  void Add(uint32_t hash32) {
    uint16_t* b = Bucket(hash32);
    b[3] = b[2];
    b[2] = b[1];
    b[1] = b[0];
    b[0] = Fingerprint(hash32);
  }

  // Returns whether the fingerprint was present, and forgets it.
  bool Take(uint32_t hash32) {
    uint16_t* b = Bucket(hash32);
    uint16_t fp = Fingerprint(hash32);
    for (int i = 0; i < kSlots; ++i) {
      if (b[i] == fp) {
        b[i] = 0;
        return true;
      }
    }
    return false;
  }

 private:
  static constexpr int kSlots = 4;
  static uint16_t Fingerprint(uint32_t hash32) {
    uint16_t fp = static_cast<uint16_t>(hash32);
    return fp == 0 ? 1 : fp;
  }
  // Any number of buckets (not only powers of two): the high bits of hash * buckets.
  uint16_t* Bucket(uint32_t hash32) {
    return slots_.get() + ((static_cast<uint64_t>(hash32) * buckets_) >> 32) * kSlots;
  }

  struct Free {
    void operator()(uint16_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint16_t, Free> slots_;
  size_t buckets_ = 0;
  size_t capacity_ = 0;
};

}  // namespace podcache
