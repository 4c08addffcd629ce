#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

namespace podcache {

// Remembers the hashes of recently evicted keys (the S3-FIFO and SLRU ghosts) in 4 bytes per key: a
// table of 4-slot buckets, each bucket a small FIFO, so the oldest fingerprint in a bucket is
// forgotten first. Approximate by design (a forgotten or colliding fingerprint only changes which
// queue a re-inserted key enters). Not thread-safe: one store shard owns it.
class GhostFilter {
 public:
  // Sizes the filter to remember about `keys` fingerprints; forgets everything.
  void Resize(size_t keys) {
    size_t buckets = 4;
    while (buckets * kSlots < keys) buckets *= 2;
    // calloc: a large table comes as fresh zero pages from mmap, so memory is only touched (and
    // resident) as evictions fill it.
    slots_.reset(static_cast<uint32_t*>(std::calloc(buckets * kSlots, sizeof(uint32_t))));
    if (!slots_) throw std::bad_alloc();
    mask_ = buckets - 1;
    capacity_ = buckets * kSlots;
  }
  size_t capacity() const { return capacity_; }
  size_t bytes() const { return capacity_ * sizeof(uint32_t); }

  void Add(uint32_t hash32) {
    uint32_t* b = Bucket(hash32);
    b[3] = b[2];
    b[2] = b[1];
    b[1] = b[0];
    b[0] = Fingerprint(hash32);
  }

  // Returns whether the fingerprint was present, and forgets it.
  bool Take(uint32_t hash32) {
    uint32_t* b = Bucket(hash32);
    uint32_t fp = Fingerprint(hash32);
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
  static uint32_t Fingerprint(uint32_t hash32) { return hash32 == 0 ? 1 : hash32; }
  uint32_t* Bucket(uint32_t hash32) { return slots_.get() + (hash32 & mask_) * kSlots; }

  struct Free {
    void operator()(uint32_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint32_t, Free> slots_;
  size_t mask_ = 0;
  size_t capacity_ = 0;
};

}  // namespace podcache
