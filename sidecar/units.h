#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace podcache {

// Parses a byte size: a non-negative integer with an optional unit, B, KB/MB/GB (powers of 1000)
// or KiB/MiB/GiB (powers of 1024), e.g. "256MiB", "1GB", "4096". Whitespace around is ignored.
StatusOr<uint64_t> ParseBytes(std::string_view text);

// Parses a duration into milliseconds: an integer or decimal with a unit, ms, s, m, h or d
// (e.g. "250ms", "5m", "1.5s"), or a bare integer meaning milliseconds. "0" is zero.
StatusOr<Millis> ParseDuration(std::string_view text);

// "256MiB" / "5m" style renderings, for --help defaults and debug output.
std::string FormatBytes(uint64_t bytes);
std::string FormatDuration(Millis ms);

}  // namespace podcache
