#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/clock.h"

namespace podcache {

// How long past its expiry an entry may still be served (RFC 5861), in milliseconds; 0 = not at
// all. while_revalidate: answered at once while one background refresh runs; if_error: answered
// when the refresh (or a load) fails.
struct StaleWindows {
  uint32_t while_revalidate_ms = 0;
  uint32_t if_error_ms = 0;

  uint32_t longest() const {
    return while_revalidate_ms > if_error_ms ? while_revalidate_ms : if_error_ms;
  }
  bool empty() const { return longest() == 0; }
};

// One cached item: a header followed, in the same allocation, by the key bytes and the value bytes.
// The header is packed to 52 bytes so that a 16-byte key with a 100-byte value fits a 176-byte
// malloc chunk. Entries are reference counted: the store holds one reference while the entry is
// indexed, and every ValueRef handed to a reader holds one, so a reader keeps the bytes alive after
// eviction without copying them under a lock. An entry with stale windows (kFlagStale) keeps them
// in 8 bytes after the value, so entries without them pay nothing. Everything but `refs` is
// immutable after creation or guarded by the owning store shard's lock.
struct Entry {
  Entry* next_in_bucket;  // hash-table chain (shard lock)
  Entry* prev;            // eviction-policy list links (shard lock)
  Entry* next;
  Millis expires_at;    // Clock time at which it stops being served; 0 = never
  uint32_t hash32;      // low 32 bits of the key's hash, for the bucket and quick compares
  uint32_t generation;  // low 32 bits of the keyspace generation it was written under (Store)
  std::atomic<uint32_t> refs;
  uint32_t value_size;
  uint16_t key_size;
  uint8_t flags;  // kFlag* below
  uint8_t freq;   // policy-private access counter (shard lock)

  static constexpr uint8_t kFlagIndexed = 1;     // currently in a store's table
  static constexpr uint8_t kFlagWasIndexed = 2;  // was inserted once; cannot be inserted again
  static constexpr uint8_t kFlagNegative = 4;    // caches "not found"; value is empty
  static constexpr uint8_t kFlagSmallQueue = 8;  // S3-FIFO small queue / SLRU probation
  static constexpr uint8_t kFlagStale = 16;      // StaleWindows follow the value bytes
  static constexpr size_t kMaxKeySize = UINT16_MAX;

  char* data() { return reinterpret_cast<char*>(this) + kHeaderSize; }
  const char* data() const { return reinterpret_cast<const char*>(this) + kHeaderSize; }
  std::string_view key() const { return {data(), key_size}; }
  std::string_view value() const { return {data() + key_size, value_size}; }
  bool negative() const { return flags & kFlagNegative; }
  StaleWindows stale_windows() const {
    StaleWindows w;
    if (flags & kFlagStale) std::memcpy(&w, data() + key_size + value_size, sizeof(w));
    return w;
  }
  // The last Clock time at which some stale window still allows serving it: expires_at for an
  // entry without stale windows, 0 (never) for one without expiry.
  Millis stale_until() const {
    if (expires_at == 0) return 0;
    return SaturatingAdd(expires_at, stale_windows().longest());
  }

  // Allocates an entry with one reference. `stale` is kept only when the entry expires.
  // REQUIRES: key.size() <= kMaxKeySize.
  static Entry* Create(std::string_view key, uint64_t hash, std::string_view value,
                       Millis expires_at, bool negative, StaleWindows stale = {});
  void Ref() { refs.fetch_add(1, std::memory_order_relaxed); }
  void Unref();
  // Bytes this entry really occupies on the heap (usable size plus the allocator's chunk header).
  size_t Charge() const;

  static const size_t kHeaderSize;
};

}  // namespace podcache
