#pragma once

#include <cstdint>
#include <string_view>
#include <utility>

#include "core/entry.h"

namespace podcache {

// A counted reference to an immutable cached value (and its key). Cheap to copy: copying bumps a
// reference count; the bytes are never copied. Safe to use from any thread after the entry was
// evicted. An empty ValueRef means "no entry".
class ValueRef {
 public:
  ValueRef() = default;
  // Adopts one reference already held on `e`.
  static ValueRef Adopt(Entry* e) { return ValueRef(e); }
  // A new detached entry (not in any store) holding copies of key and value.
  static ValueRef Make(std::string_view key, uint64_t hash, std::string_view value,
                       Millis expires_at = 0, bool negative = false, StaleWindows stale = {}) {
    return ValueRef(Entry::Create(key, hash, value, expires_at, negative, stale));
  }

  ValueRef(const ValueRef& o) : e_(o.e_) {
    if (e_) e_->Ref();
  }
  ValueRef(ValueRef&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  ValueRef& operator=(ValueRef o) noexcept {
    std::swap(e_, o.e_);
    return *this;
  }
  ~ValueRef() {
    if (e_) e_->Unref();
  }

  explicit operator bool() const { return e_ != nullptr; }
  std::string_view key() const { return e_->key(); }
  std::string_view value() const { return e_->value(); }
  // True when this caches the data source's "not found".
  bool negative() const { return e_->negative(); }
  // Clock time at which the entry expires, 0 for never.
  Millis expires_at() const { return e_->expires_at; }
  // How long past expires_at it may still be served (none unless it expires).
  StaleWindows stale_windows() const { return e_->stale_windows(); }
  // True once `now` has reached the expiry time.
  bool Expired(Millis now) const { return e_->expires_at != 0 && now >= e_->expires_at; }
  // Remaining lifetime at `now`: -1 for "no expiry", else >= 0.
  Millis RemainingMs(Millis now) const {
    if (e_->expires_at == 0) return -1;
    return e_->expires_at > now ? e_->expires_at - now : 0;
  }
  // Identity of the underlying entry: two refs to one load compare equal.
  const Entry* entry() const { return e_; }
  Entry* release() { return std::exchange(e_, nullptr); }

 private:
  explicit ValueRef(Entry* e) : e_(e) {}
  Entry* e_ = nullptr;
};

}  // namespace podcache
