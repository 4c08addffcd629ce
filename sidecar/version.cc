#include "sidecar/version.h"

namespace podcache {
const char* const kPodcacheVersion = PODCACHE_VERSION;
}  // namespace podcache
