#pragma once

#include <chrono>
#include <cstdint>

namespace podcache {

// Time in core is a monotonic count of milliseconds (no wall clock: TTLs are durations, so clock
// skew between pods cannot move them). Millis is a plain integer so it fits in cache entries.
using Millis = int64_t;
inline constexpr Millis kNoDeadline = INT64_MAX;

// `t + d`, saturating at kNoDeadline (and at INT64_MIN): deadlines and expiry times built from
// outside input (a TTL of INT64_MAX, a loader's max-age) never overflow.
constexpr Millis SaturatingAdd(Millis t, Millis d) {
  if (d > 0 && t > kNoDeadline - d) return kNoDeadline;
  if (d < 0 && t < INT64_MIN - d) return INT64_MIN;
  return t + d;
}

// The expiry time of a value stored at `now` for `ttl_ms`: 0 (never) for a TTL of 0, else
// now + ttl, saturating, so a huge TTL is "as late as representable", never a time in the past.
// REQUIRES: ttl_ms >= 0.
constexpr Millis ExpiryTime(Millis now, Millis ttl_ms) {
  return ttl_ms == 0 ? 0 : SaturatingAdd(now, ttl_ms);
}

// Source of monotonic time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis NowMs() const = 0;
};

// CLOCK_MONOTONIC. Shared process-wide instance via SystemClock::Get().
class SystemClock final : public Clock {
 public:
  static SystemClock* Get();
  Millis NowMs() const override;
};

}  // namespace podcache
