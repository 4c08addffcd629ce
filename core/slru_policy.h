#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/entry_list.h"
#include "core/ghost_filter.h"

namespace podcache {

// Segmented LRU with a ghost, the default policy (docs/benchmarks.md has the figures).
// - New keys enter the probation segment, in order of insertion. A hit there only sets a bit; the
//   key moves to the protected segment (60% of the bytes) when it reaches probation's tail, so
//   one-hit wonders and scans only ever churn probation.
// - Protected is in LRU order, approximately: a hit moves a key to the front only when it was
//   last moved more than 3/4 of a turn of protected ago, so hot keys near the front cost nothing
//   (memcached bumps items the same way, by time).
// - Protected's overflow goes to probation's tail: evicted next unless hit meanwhile, which brings
//   it back. A ghost (2 bytes per key) remembers keys evicted from probation, and a key that
//   comes back from it goes straight to protected.
// This beats LRU on one-hit wonders and scans and matches it on a shifting hot set, where the
// CLOCK-ordered protected segment of the previous version lost 1.8% and S3-FIFO loses 12%.
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

  void Touch(Entry* e) {
    if (e->flags & Entry::kFlagSmallQueue) {
      e->freq = 1;
      return;
    }
    if (static_cast<uint8_t>(epoch_ - e->freq) >= kStaleEpochs) {
      protected_.MoveToFront(e);
      Stamp(e);
    }
  }

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

  void Stamp(Entry* e) {
    e->freq = epoch_;
    if (++moves_ >= std::max<size_t>(1, protected_.size() / kEpochsPerTurn)) {
      ++epoch_;
      moves_ = 0;
    }
  }

  void Protect(Entry* e, size_t charge) {
    e->flags &= ~Entry::kFlagSmallQueue;
    protected_.PushFront(e, charge);
    Stamp(e);
    while (protected_.bytes() > protected_target_ && protected_.back() != e) {
      Entry* tail = protected_.back();
      size_t c = tail->Charge();
      protected_.Remove(tail, c);
      tail->flags |= Entry::kFlagSmallQueue;
      tail->freq = 0;
      probation_.PushBack(tail, c);
    }
  }

  // The ghost remembers about as many keys as the cache holds: grow it as the cache fills.
  void MaybeResizeGhost() {
    size_t entries = probation_.size() + protected_.size() + 1;
    if (entries > ghost_.capacity()) ghost_.Resize(entries + entries / 4);
  }

  // Protected is in LRU order, but a hit moves an entry to the front only when the entry was last
  // moved more than 6 of the 8 epochs of a turn ago (epochs count moves; a turn is protected's
  // size in moves). Hot keys stay near the front and cost nothing; the order stays close to LRU.
  static constexpr size_t kEpochsPerTurn = 8;
  static constexpr uint8_t kStaleEpochs = 6;
  uint8_t epoch_ = 0;  // wraps; only differences of a few epochs matter
  size_t moves_ = 0;   // moves to protected's front in this epoch
  const size_t protected_target_;
  EntryList probation_;
  EntryList protected_;
  GhostFilter ghost_;
};

}  // namespace podcache
