#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/loader.h"
#include "sidecar/config.h"
#include "sidecar/metrics.h"

namespace podcache {

// Builds the loader of a keyspace from its configuration: an HttpLoader, a GrpcLoader, or null for
// `none` (cache-aside). Every loader is wrapped so that each call's outcome (by status code) and
// duration land in `metrics`.
StatusOr<std::shared_ptr<Loader>> MakeLoader(const KeyspaceConfig& ks,
                                             std::shared_ptr<CallMetrics> metrics);

// Replaces {keyspace} and {key} in `url_template` with their URL-escaped (RFC 3986 unreserved
// characters kept, every other byte %XX) values.
std::string ExpandUrlTemplate(std::string_view url_template, std::string_view keyspace,
                              std::string_view key);

// The TTL in milliseconds given by a Cache-Control header (directive names case-insensitive):
// max-age=N -> N s, capped at 2^31 s as RFC 9111 asks for numbers too large to represent (the
// keyspace's max_ttl then applies); max-age=0, a malformed or negative max-age, no-store or
// no-cache -> 1 ms (the value answers the callers waiting now and is not served again); only the
// first max-age counts; no header or no max-age -> -1 (the keyspace default).
Millis TtlFromCacheControl(std::string_view header);

// What a loader's Cache-Control says about one value; -1 = not said (the keyspace's setting).
struct CacheControl {
  Millis ttl_ms = -1;  // as TtlFromCacheControl
  // RFC 5861 stale-while-revalidate=N / stale-if-error=N: N s, at most
  // KeyspaceOptions::kMaxStaleWindowMs; a malformed or negative N -> 0 (no stale serving, the
  // safe side, as a malformed max-age makes the value stale at once); the first of each counts.
  // no-store, no-cache, must-revalidate and proxy-revalidate (RFC 9111 forbids serving such a
  // response stale) -> 0 for both.
  Millis stale_while_revalidate_ms = -1;
  Millis stale_if_error_ms = -1;
};
CacheControl ParseCacheControl(std::string_view header);

}  // namespace podcache
