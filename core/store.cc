#include "core/store.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <vector>

#include "core/entry_table.h"
#include "core/hash.h"
#include "core/lru_policy.h"
#include "core/mutex.h"
#include "core/s3fifo_policy.h"
#include "core/slru_policy.h"
#include "core/spin_lock.h"
#include "core/wtinylfu_policy.h"

namespace podcache {

bool ParseEvictionPolicy(std::string_view name, EvictionPolicy* out) {
  if (name == "lru") {
    *out = EvictionPolicy::kLru;
  } else if (name == "s3fifo") {
    *out = EvictionPolicy::kS3Fifo;
  } else if (name == "slru") {
    *out = EvictionPolicy::kSlru;
  } else if (name == "wtinylfu") {
    *out = EvictionPolicy::kWTinyLfu;
  } else {
    return false;
  }
  return true;
}

std::string_view EvictionPolicyName(EvictionPolicy p) {
  switch (p) {
    case EvictionPolicy::kLru:
      return "lru";
    case EvictionPolicy::kS3Fifo:
      return "s3fifo";
    case EvictionPolicy::kSlru:
      return "slru";
    case EvictionPolicy::kWTinyLfu:
      return "wtinylfu";
  }
  return "slru";
}

namespace {

// One lock's worth of the store: a hash table, an eviction policy and a byte budget.
// Thread-safe through mu_ (a spin lock: every section under it is short and never blocks); aligned
// so neighbouring shards' locks do not share a cache line.
template <typename Policy>
class alignas(64) Shard {
 public:
  explicit Shard(size_t capacity) : capacity_(capacity), policy_(capacity) {}
  ~Shard() { Clear(); }

  // The live entry; with `stale` not null also an expired one still within its stale window
  // (then *stale is set). An entry past every window, or from an old generation, is dropped.
  ValueRef Lookup(std::string_view key, uint32_t hash32, uint32_t generation, const Clock& clock,
                  bool* stale) {
    Millis now = clock.NowMs();
    SpinLockHolder lock(&mu_);
    Entry* e = table_.Find(key, hash32);
    if (e == nullptr) {
      ++stats_.misses;
      return {};
    }
    if (IsDead(e, generation, now)) {
      DropLocked(e);
      ++stats_.expirations;
      ++stats_.misses;
      return {};
    }
    bool expired = IsExpired(e, now);
    if (expired && stale == nullptr) {
      ++stats_.misses;  // kept for its stale window, but not served as a fresh value
      return {};
    }
    if (expired) {
      *stale = true;
      ++stats_.stale_hits;
    } else {
      ++stats_.hits;
    }
    policy_.Touch(e);
    e->Ref();
    return ValueRef::Adopt(e);
  }

  // `current` is the store's generation, read under this shard's lock: a Clear() for a generation
  // jump takes the same lock after moving the generation, so an entry either lands before the
  // Clear (and is dropped by it) or sees the new generation here (and is refused).
  bool Insert(Entry* e, uint64_t generation, const std::atomic<uint64_t>& current, bool replace,
              const Clock& clock) {
    size_t charge = e->Charge();
    SpinLockHolder lock(&mu_);
    if (generation < current.load(std::memory_order_acquire)) {
      ++stats_.rejected;
      return false;
    }
    if (!replace) {
      // An entry kept only for its stale window is no longer live: a load replaces it.
      Entry* live = table_.Find(e->key(), e->hash32);
      Millis now = clock.NowMs();
      if (live && !IsDead(live, static_cast<uint32_t>(generation), now) && !IsExpired(live, now)) {
        return false;
      }
    }
    if (charge + table_.bytes() + policy_.MemoryBytes() > capacity_) {
      ++stats_.rejected;
      return false;
    }
    e->Ref();
    e->generation = static_cast<uint32_t>(generation);
    e->flags |= Entry::kFlagIndexed | Entry::kFlagWasIndexed;
    if (Entry* old = table_.Insert(e)) ForgetLocked(old);
    policy_.Insert(e, charge);
    entry_bytes_ += charge;
    ++stats_.inserts;
    while (Usage() > capacity_) {
      Entry* victim = policy_.Evict();
      if (victim == nullptr) break;
      table_.Remove(victim->key(), victim->hash32);
      ++stats_.evictions;
      Release(victim);
    }
    return true;
  }

  bool Erase(std::string_view key, uint32_t hash32, const Clock* expired_at) {
    Millis now = expired_at == nullptr ? 0 : expired_at->NowMs();
    SpinLockHolder lock(&mu_);
    Entry* e = table_.Find(key, hash32);
    if (e == nullptr) return false;
    if (expired_at != nullptr && !IsExpired(e, now)) return false;
    DropLocked(e);
    return true;
  }

  size_t Reclaim(size_t max_buckets, uint32_t generation, const Clock& clock) {
    Millis now = clock.NowMs();
    SpinLockHolder lock(&mu_);
    size_t dropped = 0;
    size_t n = std::min(max_buckets, table_.num_buckets());
    for (size_t i = 0; i < n; ++i) {
      cursor_ = (cursor_ + 1) & (table_.num_buckets() - 1);
      for (Entry* e = table_.bucket(cursor_); e;) {
        Entry* next = e->next_in_bucket;
        if (IsDead(e, generation, now)) {
          DropLocked(e);
          ++stats_.expirations;
          ++dropped;
        }
        e = next;
      }
    }
    return dropped;
  }

  void Clear() {
    SpinLockHolder lock(&mu_);
    for (size_t i = 0; i < table_.num_buckets(); ++i) {
      for (Entry* e = table_.bucket(i); e;) {
        Entry* next = e->next_in_bucket;
        e->next_in_bucket = nullptr;
        e->flags &= ~Entry::kFlagIndexed;
        e->Unref();
        e = next;
      }
    }
    table_.Reset();
    policy_.Reset();
    entry_bytes_ = 0;
    cursor_ = 0;
  }

  void AddStats(StoreStats* out) const {
    SpinLockHolder lock(&mu_);
    out->hits += stats_.hits;
    out->stale_hits += stats_.stale_hits;
    out->misses += stats_.misses;
    out->inserts += stats_.inserts;
    out->rejected += stats_.rejected;
    out->evictions += stats_.evictions;
    out->expirations += stats_.expirations;
    out->items += table_.count();
    out->bytes += Usage();
    out->capacity += capacity_;
  }

 private:
  size_t Usage() const REQUIRES(mu_) {
    return entry_bytes_ + table_.bytes() + policy_.MemoryBytes();
  }

  // Past its expiry (it may still be kept for a stale window).
  static bool IsExpired(const Entry* e, Millis now) {
    return e->expires_at != 0 && now >= e->expires_at;
  }
  // Never served again: from an old generation, or past its expiry and every stale window.
  static bool IsDead(const Entry* e, uint32_t generation, Millis now) {
    if (e->generation != generation) return true;
    Millis until = e->stale_until();
    return until != 0 && now >= until;
  }

  // Unindexes an entry that is in the table and the policy.
  void DropLocked(Entry* e) REQUIRES(mu_) {
    table_.Remove(e->key(), e->hash32);
    ForgetLocked(e);
  }

  // Takes an entry already out of the table out of the policy and the accounting.
  void ForgetLocked(Entry* e) REQUIRES(mu_) {
    size_t charge = e->Charge();
    policy_.Remove(e, charge);
    Release(e);
  }

  // Drops the store's reference to an entry that is out of the table and the policy.
  void Release(Entry* e) REQUIRES(mu_) {
    entry_bytes_ -= e->Charge();
    e->flags &= ~Entry::kFlagIndexed;
    e->Unref();
  }

  mutable SpinLock mu_;
  const size_t capacity_;
  size_t entry_bytes_ GUARDED_BY(mu_) = 0;
  size_t cursor_ GUARDED_BY(mu_) = 0;
  EntryTable table_ GUARDED_BY(mu_);
  Policy policy_ GUARDED_BY(mu_);
  StoreStats stats_ GUARDED_BY(mu_);
};

template <typename Policy>
class StoreImpl final : public Store {
 public:
  StoreImpl(const StoreOptions& options, int shard_bits)
      : clock_(options.clock), shard_bits_(shard_bits), capacity_(options.max_bytes) {
    size_t n = size_t{1} << shard_bits;
    shards_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      shards_.push_back(std::make_unique<Shard<Policy>>(options.max_bytes >> shard_bits));
    }
  }

  ValueRef Lookup(std::string_view key, uint64_t hash) override {
    return ShardFor(hash).Lookup(key, static_cast<uint32_t>(hash), generation32(), *clock_,
                                 nullptr);
  }

  ValueRef LookupStale(std::string_view key, uint64_t hash, bool* stale) override {
    *stale = false;
    return ShardFor(hash).Lookup(key, static_cast<uint32_t>(hash), generation32(), *clock_, stale);
  }

  bool Insert(const ValueRef& value, uint64_t generation, bool replace) override {
    assert(value && value.entry()->key_size == value.key().size());
    Entry* e = const_cast<Entry*>(value.entry());
    uint64_t hash = HashOf(e);
    Shard<Policy>& shard = ShardFor(hash);
    if (e->flags & Entry::kFlagWasIndexed) {
      // Each entry is linked into one table at most once; index a private copy instead.
      ValueRef copy = ValueRef::Make(value.key(), hash, value.value(), value.expires_at(),
                                     value.negative(), value.stale_windows());
      return shard.Insert(const_cast<Entry*>(copy.entry()), generation, generation_, replace,
                          *clock_);
    }
    return shard.Insert(e, generation, generation_, replace, *clock_);
  }

  bool Erase(std::string_view key, uint64_t hash) override {
    return ShardFor(hash).Erase(key, static_cast<uint32_t>(hash), nullptr);
  }

  bool EraseExpired(std::string_view key, uint64_t hash) override {
    return ShardFor(hash).Erase(key, static_cast<uint32_t>(hash), clock_);
  }

  void Clear() override {
    for (auto& s : shards_) s->Clear();
  }

  size_t ReclaimExpired(size_t max_buckets) override {
    size_t dropped = 0;
    for (auto& s : shards_) dropped += s->Reclaim(max_buckets, generation32(), *clock_);
    return dropped;
  }

  void AdvanceGeneration(uint64_t generation) override {
    MutexLock lock(&advance_mu_);
    if (generation <= generation_.load(std::memory_order_relaxed)) return;
    generation_.store(generation, std::memory_order_release);
    // Entries keep 32 bits of their generation: empty the store before any entry could be 2^32
    // generations behind and look current again.
    if (generation - last_clear_ >= kClearAfterGenerations) {
      Clear();
      last_clear_ = generation;
    }
  }
  uint64_t generation() const override { return generation_.load(std::memory_order_acquire); }

  StoreStats Stats() const override {
    StoreStats out;
    for (auto& s : shards_) s->AddStats(&out);
    return out;
  }
  size_t capacity() const override { return capacity_; }
  size_t num_shards() const override { return shards_.size(); }

 private:
  Shard<Policy>& ShardFor(uint64_t hash) {
    return *shards_[shard_bits_ == 0 ? 0 : hash >> (64 - shard_bits_)];
  }
  // The shard index needs the hash's top bits, which the entry does not keep; rehash the key.
  static uint64_t HashOf(const Entry* e) { return HashBytes(e->key()); }
  uint32_t generation32() const { return static_cast<uint32_t>(generation()); }

  const Clock* clock_;
  const int shard_bits_;
  const size_t capacity_;
  std::atomic<uint64_t> generation_{0};
  Mutex advance_mu_;                                 // serializes AdvanceGeneration (rare)
  uint64_t last_clear_ GUARDED_BY(advance_mu_) = 0;  // the generation of the last Clear
  std::vector<std::unique_ptr<Shard<Policy>>> shards_;
};

int ChooseShardBits(const StoreOptions& o) {
  if (o.shard_bits >= 0) return std::min(o.shard_bits, StoreOptions::kMaxShardBits);
  // More shards mean less lock contention; each shard must still hold kMinEntriesPerShard of the
  // largest entries, and is never smaller than kMinShardBytes.
  size_t min_shard =
      std::max(StoreOptions::kMinEntriesPerShard * o.max_entry_bytes, StoreOptions::kMinShardBytes);
  int bits = 0;
  while (bits < StoreOptions::kMaxShardBits && (o.max_bytes >> (bits + 1)) >= min_shard) ++bits;
  return bits;
}

}  // namespace

std::unique_ptr<Store> NewStore(const StoreOptions& options) {
  int bits = ChooseShardBits(options);
  switch (options.policy) {
    case EvictionPolicy::kLru:
      return std::make_unique<StoreImpl<LruPolicy>>(options, bits);
    case EvictionPolicy::kS3Fifo:
      return std::make_unique<StoreImpl<S3FifoPolicy>>(options, bits);
    case EvictionPolicy::kWTinyLfu:
      return std::make_unique<StoreImpl<WTinyLfuPolicy>>(options, bits);
    case EvictionPolicy::kSlru:
      break;
  }
  return std::make_unique<StoreImpl<SlruPolicy>>(options, bits);
}

}  // namespace podcache
