#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/clock.h"
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

  // Checks every field; the message names the field and the limit.
  Status Validate() const;
  // The TTL to store for a value whose source asked for `ttl_ms` (-1 = not given).
  Millis EffectiveTtl(Millis ttl_ms) const {
    Millis ttl = ttl_ms < 0 ? default_ttl_ms : ttl_ms;
    if (max_ttl_ms > 0 && (ttl == 0 || ttl > max_ttl_ms)) ttl = max_ttl_ms;
    return ttl;
  }
};

}  // namespace podcache
