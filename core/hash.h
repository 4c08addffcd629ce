#pragma once

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace podcache {

// XXH3-64 with seed 0: fast, well distributed and identical on every node and architecture, which
// the ring relies on (two sidecars must agree on every key's owner).
inline uint64_t HashBytes(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}
inline uint64_t HashBytes(std::string_view bytes, uint64_t seed) {
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
}

}  // namespace podcache
