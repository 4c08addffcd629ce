#include "core/keyspace_options.h"

#include "core/entry.h"

namespace podcache {

bool IsValidKeyspaceName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

namespace {

Status Bad(const std::string& ks, const std::string& what) {
  return InvalidArgumentError("keyspace '" + ks + "': " + what);
}

}  // namespace

Status KeyspaceOptions::Validate() const {
  if (!IsValidKeyspaceName(name)) {
    return Bad(name, "name must be 1-64 characters of [A-Za-z0-9_.-]");
  }
  if (max_bytes < (64 << 10)) return Bad(name, "max_bytes must be at least 64KiB");
  if (default_ttl_ms < 0 || max_ttl_ms < 0 || negative_ttl_ms < 0 || hot_ttl_ms < 0) {
    return Bad(name, "TTLs must not be negative");
  }
  if (max_ttl_ms > 0 && default_ttl_ms > max_ttl_ms) {
    return Bad(name, "default_ttl must not exceed max_ttl");
  }
  if (!(hot_share >= 0.0 && hot_share <= 0.5)) return Bad(name, "hot_share must be in [0, 0.5]");
  if (max_key_bytes < 1 || max_key_bytes > Entry::kMaxKeySize) {
    return Bad(name, "max_key_bytes must be in [1, 65535]");
  }
  if (max_value_bytes < 1 || max_value_bytes > max_bytes / 4) {
    return Bad(name, "max_value_bytes must be in [1, max_bytes/4]");
  }
  if (load_concurrency < 1) return Bad(name, "load_concurrency must be at least 1");
  if (load_queue < 0) return Bad(name, "load_queue must not be negative");
  if (load_timeout_ms < 1) return Bad(name, "load_timeout must be at least 1ms");
  if (hot_promote_hits < 1) return Bad(name, "hot_promote_hits must be at least 1");
  if (hot_window_ms < 1) return Bad(name, "hot_window must be at least 1ms");
  if (fallback_ttl_ms < 0) return Bad(name, "fallback_ttl must not be negative");
  if (stale_while_revalidate_ms < 0 || stale_while_revalidate_ms > kMaxStaleWindowMs) {
    return Bad(name, "stale_while_revalidate must be in [0, 7d]");
  }
  if (stale_if_error_ms < 0 || stale_if_error_ms > kMaxStaleWindowMs) {
    return Bad(name, "stale_if_error must be in [0, 7d]");
  }
  if (loader_breaker_failures < 0 || loader_breaker_failures > 1000000) {
    return Bad(name, "loader_breaker_failures must be in [0, 1000000] (0 = no breaker)");
  }
  if (loader_breaker_time_ms < 1) return Bad(name, "loader_breaker_time must be at least 1ms");
  if (loader_breaker_max_time_ms < loader_breaker_time_ms) {
    return Bad(name, "loader_breaker_max_time must be at least loader_breaker_time");
  }
  return OkStatus();
}

}  // namespace podcache
