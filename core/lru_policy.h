#pragma once

#include <cstddef>

#include "core/entry_list.h"

namespace podcache {

// Least-recently-used: a hit moves the entry to the head; the tail is evicted.
// Not thread-safe: used by one store shard under its lock.
class LruPolicy {
 public:
  explicit LruPolicy(size_t /*capacity_bytes*/) {}

  void Insert(Entry* e, size_t charge) { list_.PushFront(e, charge); }
  void Touch(Entry* e) { list_.MoveToFront(e); }
  void Remove(Entry* e, size_t charge) { list_.Remove(e, charge); }
  // Unlinks and returns the entry to evict, or null when empty.
  Entry* Evict() {
    Entry* victim = list_.back();
    if (victim) list_.Remove(victim, victim->Charge());
    return victim;
  }
  size_t MemoryBytes() const { return 0; }
  void Reset() { list_.Reset(); }

 private:
  EntryList list_;
};

}  // namespace podcache
