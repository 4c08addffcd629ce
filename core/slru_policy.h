#pragma once

#include <cstddef>

#include "core/entry_list.h"
#include "core/ghost_filter.h"

namespace podcache {

// Segmented LRU with a ghost, the default policy. New keys enter the probation segment (in order
// of insertion); a key hit there moves to the protected segment (60% of the bytes) when it reaches
// probation's tail, instead of at the hit. Protected is kept in CLOCK order: a key whose bit is
// set when it reaches protected's tail goes round again. So every hit, in either segment, only
// sets a bit and does no list surgery; promoting at the tail instead of at the hit changes the
// miss ratios of the bench's traces by less than 0.1% (docs/benchmarks.md). Protected overflows
// into the head of probation instead of being evicted, so a once-popular key gets a second chance;
// only probation's tail is evicted. A ghost (4 bytes per key) remembers keys evicted from
// probation, and a key that comes back from it goes straight to protected. One-hit wonders and
// scans therefore only ever churn probation, while recency still counts everywhere, which is why it
// tracks LRU on a shifting hot set where S3-FIFO falls behind (docs/benchmarks.md).
// Not thread-safe: used by one store shard under its lock.
class SlruPolicy {
 public:
  explicit SlruPolicy(size_t capacity_bytes) : protected_target_(capacity_bytes * 6 / 10) {
    ghost_.Resize(kMinGhost);
  }

  void Insert(Entry* e, size_t charge) {
    MaybeResizeGhost();
    if (ghost_.Take(e->hash32)) {
      Protect(e, charge);
    } else {
      e->flags |= Entry::kFlagSmallQueue;
      probation_.PushFront(e, charge);
    }
  }

  // A hit only sets a bit, in either segment: a probation entry that was hit is promoted when it
  // reaches probation's tail, so hits do no list surgery.
  void Touch(Entry* e) { e->freq = 1; }

  void Remove(Entry* e, size_t charge) {
    ((e->flags & Entry::kFlagSmallQueue) ? probation_ : protected_).Remove(e, charge);
  }

  // Unlinks and returns the entry to evict, or null when empty.
  Entry* Evict() {
    while (Entry* e = probation_.back()) {
      size_t charge = e->Charge();
      probation_.Remove(e, charge);
      if (e->freq) {  // hit while in probation: promoted now
        Protect(e, charge);
        continue;
      }
      ghost_.Add(e->hash32);
      return e;
    }
    Entry* e;
    e = protected_.back();  // only when probation is empty, e.g. a tiny shard
    if (e != nullptr) protected_.Remove(e, e->Charge());
    return e;
  }

  size_t MemoryBytes() const { return ghost_.bytes(); }
  void Reset() {
    probation_.Reset();
    protected_.Reset();
    ghost_.Resize(kMinGhost);
  }

 private:
  static constexpr size_t kMinGhost = 16;

  void Protect(Entry* e, size_t charge) {
    e->flags &= ~Entry::kFlagSmallQueue;
    e->freq = 0;
    protected_.PushFront(e, charge);
    while (protected_.bytes() > protected_target_ && protected_.back() != e) {
      Entry* tail = protected_.back();
      size_t c = tail->Charge();
      protected_.Remove(tail, c);
      if (tail->freq) {  // hit since it last came by: keep it protected
        tail->freq = 0;
        protected_.PushFront(tail, c);
        continue;
      }
      tail->flags |= Entry::kFlagSmallQueue;
      probation_.PushFront(tail, c);
    }
  }

  // The ghost remembers about as many keys as the cache holds: grow it as the cache fills.
  void MaybeResizeGhost() {
    size_t entries = probation_.size() + protected_.size() + 1;
    if (entries > ghost_.capacity()) ghost_.Resize(entries);
  }

  const size_t protected_target_;
  EntryList probation_;
  EntryList protected_;
  GhostFilter ghost_;
};

}  // namespace podcache
