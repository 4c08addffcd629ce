#pragma once

#include <cstddef>

#include "core/entry_list.h"
#include "core/ghost_filter.h"

namespace podcache {

// S3-FIFO (Yang et al., SOSP 2023): a small FIFO queue (10% of the bytes) that new keys enter, a
// main FIFO queue, and a ghost of keys recently evicted from the small queue. A hit only bumps a
// 2-bit counter (no list surgery, so hits are cheap). Eviction from the small queue moves keys that
// were hit while there to main and sends the others to the ghost; a key found in the ghost goes
// straight to main. Main evicts with second chance (CLOCK-like, counter decremented). One-hit
// wonders and scans therefore pass through the small queue without flushing the main one.
// Not thread-safe: used by one store shard under its lock.
class S3FifoPolicy {
 public:
  explicit S3FifoPolicy(size_t capacity_bytes) : small_target_(capacity_bytes / 10) {
    ghost_.Resize(kMinGhost);
  }

  void Insert(Entry* e, size_t charge) {
    MaybeResizeGhost();
    e->freq = 0;
    if (ghost_.Take(e->hash32)) {
      e->flags &= ~Entry::kFlagSmallQueue;
      main_.PushFront(e, charge);
    } else {
      e->flags |= Entry::kFlagSmallQueue;
      small_.PushFront(e, charge);
    }
  }

  void Touch(Entry* e) {
    if (e->freq < kMaxFreq) ++e->freq;
  }

  void Remove(Entry* e, size_t charge) { QueueOf(e).Remove(e, charge); }

  // Unlinks and returns the entry to evict, or null when empty.
  Entry* Evict() {
    while (!small_.empty() || !main_.empty()) {
      if (!small_.empty() && (small_.bytes() > small_target_ || main_.empty())) {
        Entry* e = small_.back();
        size_t charge = e->Charge();
        small_.Remove(e, charge);
        if (e->freq > 0) {
          e->freq = 0;
          e->flags &= ~Entry::kFlagSmallQueue;
          main_.PushFront(e, charge);
          continue;
        }
        ghost_.Add(e->hash32);
        return e;
      }
      Entry* e = main_.back();
      size_t charge = e->Charge();
      main_.Remove(e, charge);
      if (e->freq > 0) {
        --e->freq;
        main_.PushFront(e, charge);
        continue;
      }
      return e;
    }
    return nullptr;
  }

  size_t MemoryBytes() const { return ghost_.bytes(); }
  void Reset() {
    small_.Reset();
    main_.Reset();
    ghost_.Resize(kMinGhost);
  }

 private:
  static constexpr uint8_t kMaxFreq = 3;
  static constexpr size_t kMinGhost = 16;

  EntryList& QueueOf(Entry* e) { return (e->flags & Entry::kFlagSmallQueue) ? small_ : main_; }

  // The ghost remembers about as many keys as the cache holds: grow it as the cache fills.
  void MaybeResizeGhost() {
    size_t entries = small_.size() + main_.size() + 1;
    if (entries > ghost_.capacity()) ghost_.Resize(entries + entries / 4);
  }

  size_t small_target_;
  EntryList small_;
  EntryList main_;
  GhostFilter ghost_;
};

}  // namespace podcache
