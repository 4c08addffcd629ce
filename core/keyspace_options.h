#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/entry.h"
#include "core/status.h"
#include "core/store.h"

namespace podcache {

// True for 1-64 characters of [A-Za-z0-9_.-]: what a keyspace may be called.
bool IsValidKeyspaceName(std::string_view name);

// Everything that defines one keyspace (groupcache's "group"). Durations are milliseconds;
// 0 means "none" where noted.
struct KeyspaceOptions {
  std::string name;             // [A-Za-z0-9_.-], 1..64 chars
  size_t max_bytes = 64 << 20;  // budget of main + hot store together
  Millis default_ttl_ms = 0;    // TTL when the loader or Set gives none; 0 = no expiry
  Millis max_ttl_ms = 0;        // upper bound on any TTL; 0 = unbounded
  Millis negative_ttl_ms = 0;   // how long "not found" is cached by the owner; 0 = not cached
  EvictionPolicy eviction = EvictionPolicy::kSlru;
  double hot_share = 0.125;  // share of max_bytes for hot copies of others' keys
  size_t max_key_bytes = 4096;
  size_t max_value_bytes = 1 << 20;
  int load_concurrency = 64;      // loader calls in flight at once on this node
  int load_queue = 4096;          // loads waiting for a slot; more -> RESOURCE_EXHAUSTED
  Millis load_timeout_ms = 5000;  // a load's own deadline, whoever asked for it
  Millis hot_ttl_ms = 60000;      // a hot copy lives at most this long (bounds staleness)
  int hot_promote_hits = 3;       // requests for another peer's key that make it hot when they
  Millis hot_window_ms = 1000;    // come within two of these windows (see HotTracker)
  // A value loaded here because its owner could not be asked (unreachable, ejected, too slow: a
  // fallback or hedged load) is kept in the hot store at most this long (and at most hot_ttl),
  // so it cannot outlive a partition by much; 0 = handed to its waiters, not kept.
  Millis fallback_ttl_ms = 1000;
  // RFC 5861, for values loaded here (the loader's Cache-Control may set them per value); 0 = off.
  // After expiry, serve the old value at once while one background load refreshes it ...
  Millis stale_while_revalidate_ms = 0;
  // ... and when a load fails (not NOT_FOUND), serve the old value up to this long past expiry.
  Millis stale_if_error_ms = 0;
  // The loader circuit breaker (core/loader_breaker.h): this many consecutive failed loads
  // (errors and timeouts the loader reports; not NOT_FOUND, not an oversize value, not a full
  // load queue; 0 = never) make loads fail at once for loader_breaker_time, doubling while the
  // probe load keeps failing, up to loader_breaker_max_time.
  int loader_breaker_failures = 5;
  Millis loader_breaker_time_ms = 1000;
  Millis loader_breaker_max_time_ms = 30000;

  // Stale windows (here and per value) are at most a week: they travel in 32 bits of milliseconds.
  static constexpr Millis kMaxStaleWindowMs = Millis{7} * 24 * 3600 * 1000;

  // Checks every field; the message names the field and the limit.
  Status Validate() const;
  // The TTL to store for a value whose source asked for `ttl_ms` (-1 = not given).
  Millis EffectiveTtl(Millis ttl_ms) const {
    Millis ttl = ttl_ms < 0 ? default_ttl_ms : ttl_ms;
    if (max_ttl_ms > 0 && (ttl == 0 || ttl > max_ttl_ms)) ttl = max_ttl_ms;
    return ttl;
  }
  // The stale windows of a value whose source asked for `swr_ms` / `sie_ms` (-1 = not given):
  // the keyspace's otherwise, each at most kMaxStaleWindowMs.
  StaleWindows EffectiveStaleWindows(Millis swr_ms, Millis sie_ms) const {
    auto pick = [](Millis given, Millis keyspace) {
      Millis w = given < 0 ? keyspace : given;
      return static_cast<uint32_t>(w > kMaxStaleWindowMs ? kMaxStaleWindowMs : w);
    };
    return {pick(swr_ms, stale_while_revalidate_ms), pick(sie_ms, stale_if_error_ms)};
  }
};

}  // namespace podcache
