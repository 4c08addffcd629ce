#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/entry.h"

namespace podcache {

// A chained hash table of entries keyed by (hash32, key), through Entry::next_in_bucket. Grows by
// doubling when it holds more entries than buckets. Not thread-safe: one store shard owns it.
class EntryTable {
 public:
  EntryTable() { Resize(kInitialBuckets); }
  ~EntryTable() { delete[] buckets_; }
  EntryTable(const EntryTable&) = delete;
  EntryTable& operator=(const EntryTable&) = delete;

  Entry* Find(std::string_view key, uint32_t hash32) const { return *Slot(key, hash32); }

  // Inserts `e`; returns the entry with the same key it replaced (now unlinked), or null.
  Entry* Insert(Entry* e) {
    Entry** slot = Slot(e->key(), e->hash32);
    Entry* old = *slot;
    e->next_in_bucket = old ? old->next_in_bucket : nullptr;
    *slot = e;
    if (old == nullptr && ++count_ > num_buckets_) Resize(num_buckets_ * 2);
    return old;
  }

  // Unlinks the entry with this key; returns it or null.
  Entry* Remove(std::string_view key, uint32_t hash32) {
    Entry** slot = Slot(key, hash32);
    Entry* e = *slot;
    if (e) {
      *slot = e->next_in_bucket;
      e->next_in_bucket = nullptr;
      --count_;
    }
    return e;
  }

  size_t count() const { return count_; }
  size_t num_buckets() const { return num_buckets_; }
  // Heap bytes of the bucket array.
  size_t bytes() const { return num_buckets_ * sizeof(Entry*) + sizeof(size_t); }
  Entry* bucket(size_t i) const { return buckets_[i]; }

  // Forgets every entry (the caller releases them) and returns to the initial size.
  void Reset() {
    count_ = 0;
    Resize(kInitialBuckets, /*rehash=*/false);
  }

  static constexpr size_t kInitialBuckets = 16;

 private:
  Entry** Slot(std::string_view key, uint32_t hash32) const {
    Entry** slot = &buckets_[hash32 & (num_buckets_ - 1)];
    while (*slot && ((*slot)->hash32 != hash32 || (*slot)->key() != key)) {
      slot = &(*slot)->next_in_bucket;
    }
    return slot;
  }

  void Resize(size_t n, bool rehash = true) {
    Entry** fresh = new Entry*[n];
    std::memset(fresh, 0, n * sizeof(Entry*));
    if (rehash) {
      for (size_t i = 0; i < num_buckets_; ++i) {
        for (Entry* e = buckets_[i]; e;) {
          Entry* next = e->next_in_bucket;
          Entry** head = &fresh[e->hash32 & (n - 1)];
          e->next_in_bucket = *head;
          *head = e;
          e = next;
        }
      }
    }
    delete[] buckets_;
    buckets_ = fresh;
    num_buckets_ = n;
  }

  Entry** buckets_ = nullptr;
  size_t num_buckets_ = 0;
  size_t count_ = 0;
};

}  // namespace podcache
