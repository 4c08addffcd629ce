#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace podcache {

// What a loader returns for a key it found.
struct Loaded {
  std::string value;
  Millis ttl_ms = -1;  // -1: use the keyspace's default TTL; 0: no expiry
  // RFC 5861 windows past expiry for this value; -1: the keyspace's (stale_while_revalidate,
  // stale_if_error); 0: none.
  Millis stale_while_revalidate_ms = -1;
  Millis stale_if_error_ms = -1;
};

// Fills a cache miss from the application's data source (HTTP, gRPC, ... in the sidecar).
// Implementations are thread-safe and asynchronous: Load returns at once and calls `done` exactly
// once, from any thread, with the value, NOT_FOUND, or another error. `deadline` is the load's
// own bound on the Clock; a loader should give up by then.
class Loader {
 public:
  using DoneFn = std::function<void(StatusOr<Loaded>)>;
  virtual ~Loader() = default;
  virtual void Load(std::string_view keyspace, std::string_view key, Millis deadline,
                    DoneFn done) = 0;
};

}  // namespace podcache
