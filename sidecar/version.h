#pragma once

namespace podcache {
// Set by CMake from the project version.
extern const char* const kPodcacheVersion;
}  // namespace podcache
