#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace podcache {

// A count-min sketch of 4-bit counters that estimates how often each key was seen recently: the
// TinyLFU frequency filter (Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache
// Admission Policy", ACM ToS 2017), laid out as in Caffeine: a key's four counters all live in one
// 64-byte block (one cache line), one counter in each quarter of the block, so an increment or an
// estimate touches one line. After `sample_size()` increments every counter is halved, so old
// popularity fades ("aging"). Counters saturate at 15.
//
// Sized at kBytesPerKey (4) bytes per key, the same as the ghost of slru / s3fifo, i.e. 8 counters
// per key. It grows by doubling as the cache fills; a grown table copies each block into both of
// its new homes, so no estimate drops (a count-min sketch may overestimate, never underestimate).
// Not thread-safe: one store shard owns it.
class FrequencySketch {
 public:
  static constexpr size_t kBytesPerKey = 4;
  static constexpr size_t kBlockBytes = 64;
  static constexpr size_t kSampleFactor = 10;  // halve after 10 increments per key of capacity

  FrequencySketch() = default;
  FrequencySketch(const FrequencySketch&) = delete;
  FrequencySketch& operator=(const FrequencySketch&) = delete;

  // Sizes the sketch for about `keys` keys; forgets everything.
  void Reset(size_t keys) {
    size_t blocks = BlocksFor(keys);
    table_ = Allocate(blocks);
    std::memset(table_.get(), 0, blocks * kBlockBytes);
    block_mask_ = blocks - 1;
    additions_ = 0;
    halvings_ = 0;
  }

  // Grows (never shrinks) to hold about `keys` keys, keeping every estimate.
  void Grow(size_t keys) {
    size_t blocks = BlocksFor(keys);
    size_t old_blocks = block_mask_ + 1;
    if (!table_) {
      Reset(keys);
      return;
    }
    if (blocks <= old_blocks) return;
    std::unique_ptr<uint64_t[], Free> grown = Allocate(blocks);
    // Block b of the old table (index = mix & old_mask) is block b or b + k * old_blocks of the
    // new.
    for (size_t b = 0; b < blocks; b += old_blocks) {
      std::memcpy(grown.get() + b * kWordsPerBlock, table_.get(), old_blocks * kBlockBytes);
    }
    table_ = std::move(grown);
    block_mask_ = blocks - 1;
  }

  // Keys the sketch is sized for.
  size_t capacity() const { return table_ ? (block_mask_ + 1) * kBlockBytes / kBytesPerKey : 0; }
  // Heap bytes, including the allocator's chunk header and the alignment slack.
  size_t bytes() const { return table_ ? (block_mask_ + 1) * kBlockBytes + kBlockBytes : 0; }
  size_t sample_size() const { return capacity() * kSampleFactor; }
  uint64_t halvings() const { return halvings_; }

  // Counts one occurrence of the key with a conservative update (only the counters at the key's
  // current minimum are raised, which keeps the estimates of colliding keys tighter); may halve
  // every counter (O(capacity), once per sample).
  void Increment(uint32_t hash32) {
    uint64_t h = Mix(hash32);
    uint64_t* block = table_.get() + (h & block_mask_) * kWordsPerBlock;
    uint64_t min = 0xf;
    for (int i = 0; i < 4; ++i) min = std::min(min, (block[Word(h, i)] >> Shift(h, i)) & 0xf);
    if (min == 0xf) return;
    for (int i = 0; i < 4; ++i) {
      uint64_t& word = block[Word(h, i)];
      int shift = Shift(h, i);
      if (((word >> shift) & 0xf) == min) word += uint64_t{1} << shift;
    }
    if (++additions_ >= sample_size()) Halve();
  }

  // The key's estimated recent count, 0..15.
  int Frequency(uint32_t hash32) const {
    uint64_t h = Mix(hash32);
    const uint64_t* block = table_.get() + (h & block_mask_) * kWordsPerBlock;
    int f = 15;
    for (int i = 0; i < 4; ++i) {
      int c = static_cast<int>((block[Word(h, i)] >> Shift(h, i)) & 0xf);
      if (c < f) f = c;
    }
    return f;
  }

  // Halves every counter (the periodic reset of TinyLFU).
  void Halve() {
    size_t words = (block_mask_ + 1) * kWordsPerBlock;
    for (size_t i = 0; i < words; ++i) table_[i] = (table_[i] >> 1) & 0x7777777777777777ull;
    additions_ /= 2;
    ++halvings_;
  }

 private:
  static constexpr size_t kWordsPerBlock = kBlockBytes / sizeof(uint64_t);  // 8

  struct Free {
    void operator()(uint64_t* p) const { std::free(p); }
  };

  static size_t BlocksFor(size_t keys) {
    size_t blocks = 1;
    while (blocks * kBlockBytes < keys * kBytesPerKey) blocks *= 2;
    return blocks;
  }
  static std::unique_ptr<uint64_t[], Free> Allocate(size_t blocks) {
    void* p = std::aligned_alloc(kBlockBytes, blocks * kBlockBytes);
    if (p == nullptr) throw std::bad_alloc();
    return std::unique_ptr<uint64_t[], Free>(static_cast<uint64_t*>(p));
  }

  // The entry keeps only the low 32 bits of the key's hash (the bucket bits): spread them over 64
  // (SplitMix64's finalizer). The low bits pick the block, the high 32 the four counters.
  static uint64_t Mix(uint32_t hash32) {
    uint64_t z = hash32 + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Counter i lives in word 2i or 2i+1 of the block, at one of its 16 nibbles.
  static size_t Word(uint64_t h, int i) { return 2 * i + ((h >> (32 + 8 * i)) & 1); }
  static int Shift(uint64_t h, int i) { return static_cast<int>((h >> (33 + 8 * i)) & 0xf) * 4; }

  std::unique_ptr<uint64_t[], Free> table_;
  size_t block_mask_ = 0;
  size_t additions_ = 0;
  uint64_t halvings_ = 0;
};

}  // namespace podcache
