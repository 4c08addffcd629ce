#include "core/entry.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace podcache {

const size_t Entry::kHeaderSize = offsetof(Entry, freq) + sizeof(uint8_t);
static_assert(offsetof(Entry, freq) + 1 == 52, "entry header must stay 52 bytes");

// glibc keeps one size word in front of every chunk.
static constexpr size_t kMallocChunkHeader = sizeof(size_t);

Entry* Entry::Create(std::string_view key, uint64_t hash, std::string_view value, Millis expires_at,
                     bool negative, StaleWindows stale) {
  bool keep_stale = expires_at != 0 && !stale.empty();
  size_t trailer = keep_stale ? sizeof(StaleWindows) : 0;
  // The header is written as a whole Entry object, whose sizeof (56) exceeds kHeaderSize (52).
  size_t size = std::max(kHeaderSize + key.size() + value.size() + trailer, sizeof(Entry));
  void* mem = std::malloc(size);
  if (mem == nullptr) throw std::bad_alloc();
  Entry* e = new (mem) Entry{};
  e->next_in_bucket = e->prev = e->next = nullptr;
  e->expires_at = expires_at;
  e->hash32 = static_cast<uint32_t>(hash);
  e->generation = 0;
  e->refs.store(1, std::memory_order_relaxed);
  e->value_size = static_cast<uint32_t>(value.size());
  e->key_size = static_cast<uint16_t>(key.size());
  e->flags = static_cast<uint8_t>((negative ? kFlagNegative : 0) | (keep_stale ? kFlagStale : 0));
  e->freq = 0;
  std::memcpy(e->data(), key.data(), key.size());
  if (!value.empty()) std::memcpy(e->data() + key.size(), value.data(), value.size());
  if (keep_stale) std::memcpy(e->data() + key.size() + value.size(), &stale, sizeof(stale));
  return e;
}

void Entry::Unref() {
  if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    this->~Entry();
    std::free(this);
  }
}

size_t Entry::Charge() const {
  return malloc_usable_size(const_cast<Entry*>(this)) + kMallocChunkHeader;
}

}  // namespace podcache
