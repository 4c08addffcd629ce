#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/clock.h"
#include "core/value_ref.h"

namespace podcache {

// lru: plain least-recently-used. s3fifo: S3-FIFO as published (SOSP '23). slru: segmented LRU
// with a ghost, the default: scan-resistant and closest to LRU where recency matters (the hit
// ratios that chose it are in docs/benchmarks.md). wtinylfu: W-TinyLFU with a hill-climbing window
// (core/wtinylfu_policy.h); not the default, it loses to LRU on a shifting hot set.
enum class EvictionPolicy { kLru, kS3Fifo, kSlru, kWTinyLfu };
// "lru" / "s3fifo" / "slru" / "wtinylfu". Returns false for an unknown name.
bool ParseEvictionPolicy(std::string_view name, EvictionPolicy* out);
std::string_view EvictionPolicyName(EvictionPolicy p);

struct StoreOptions {
  // Hard budget: the bytes of every entry (header, key, value, allocator overhead), the hash tables
  // and the policy's own memory never add up to more than this.
  size_t max_bytes = 64 << 20;
  EvictionPolicy policy = EvictionPolicy::kSlru;
  // The largest entry the store must be able to hold: shards are sized so that each holds at least
  // kMinEntriesPerShard of them (the budget is split evenly between shards).
  size_t max_entry_bytes = 0;
  // log2 of the shard count; -1 picks it from the budget and max_entry_bytes (up to 256 shards).
  int shard_bits = -1;
  const Clock* clock = SystemClock::Get();

  static constexpr size_t kMinEntriesPerShard = 4;
  static constexpr size_t kMinShardBytes = 256 << 10;
  static constexpr int kMaxShardBits = 8;
};

// Sums over all shards. Counters only grow; items and bytes are current.
struct StoreStats {
  uint64_t hits = 0;
  uint64_t stale_hits = 0;  // expired entries returned by LookupStale (within a stale window)
  uint64_t misses = 0;
  uint64_t inserts = 0;
  uint64_t rejected =
      0;  // inserts refused: larger than a shard, or written under an old generation
  uint64_t evictions = 0;    // removed to make room
  uint64_t expirations = 0;  // removed because the TTL passed or the generation moved on
  uint64_t items = 0;
  uint64_t bytes = 0;  // current usage, always <= capacity
  uint64_t capacity = 0;
};

// A byte-bounded, sharded, in-memory map from key to immutable value with TTL, generations and a
// pluggable eviction policy. Thread-safe: every method may be called from any thread; each shard
// has its own lock, held only for index and policy updates (values are never copied under it).
class Store {
 public:
  virtual ~Store() = default;

  // The live (fresh) entry for `key`, or an empty ref when absent, expired or from an older
  // generation. Entries past their expiry and every stale window, or from an older generation, are
  // dropped on the spot; an expired entry within its stale window (Entry::stale_until) is kept, for
  // LookupStale. Negative entries are returned too: check negative().
  // REQUIRES: hash == HashBytes(key).
  virtual ValueRef Lookup(std::string_view key, uint64_t hash) = 0;

  // Lookup, except that an expired entry still within its stale window is returned too, with
  // `*stale` set (false for a fresh entry); it stays in the store. The caller decides which window
  // applies (ValueRef::stale_windows). Counted in stale_hits, not hits.
  virtual ValueRef LookupStale(std::string_view key, uint64_t hash, bool* stale) = 0;

  // Indexes `value` (made with ValueRef::Make for this key and hash), replacing any entry with the
  // same key. `generation` is the keyspace generation the value was produced under: a value from
  // before the current generation is refused. Evicts as needed to stay within the budget. Returns
  // false when the entry was refused (bigger than a shard, or from an older generation). With
  // `replace` false, a fresh entry for the key wins and the new value is dropped (a load that
  // finishes after a Set of the same key must not overwrite the newer value); an expired entry
  // kept for its stale window does not win.
  virtual bool Insert(const ValueRef& value, uint64_t generation, bool replace = true) = 0;

  // Removes `key`; returns whether it was present.
  virtual bool Erase(std::string_view key, uint64_t hash) = 0;
  // Removes `key` only if its entry has expired (kept for a stale window): a newer, fresh value
  // written meanwhile stays. Returns whether it removed one.
  virtual bool EraseExpired(std::string_view key, uint64_t hash) = 0;

  // Removes every entry.
  virtual void Clear() = 0;

  // Walks up to `max_buckets` hash buckets per shard from where the last call stopped and drops the
  // entries past their expiry and stale window, and those of older generations, found there, so
  // memory comes back without waiting for eviction. Returns how many entries it dropped.
  virtual size_t ReclaimExpired(size_t max_buckets) = 0;

  // Moves the generation forward (never back). Entries written under older generations stop being
  // served at once and are reclaimed lazily. Generations are 64-bit and never wrap; an entry keeps
  // only the low 32 bits, which is exact because the store empties itself whenever the generation
  // has moved kClearAfterGenerations past the last time it did (so no entry is ever 2^32 behind).
  virtual void AdvanceGeneration(uint64_t generation) = 0;
  virtual uint64_t generation() const = 0;
  static constexpr uint64_t kClearAfterGenerations = uint64_t{1} << 31;

  virtual StoreStats Stats() const = 0;
  virtual size_t capacity() const = 0;
  virtual size_t num_shards() const = 0;
};

std::unique_ptr<Store> NewStore(const StoreOptions& options);

}  // namespace podcache
