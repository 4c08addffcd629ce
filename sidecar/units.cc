#include "sidecar/units.h"

#include <charconv>
#include <cmath>
#include <utility>

#include "core/strings.h"

namespace podcache {
namespace {

// Splits "12.5MiB" into the number 12.5 and the unit "MiB".
bool SplitNumber(std::string_view s, double* number, std::string_view* unit) {
  size_t i = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
  if (i == 0) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + i, *number);
  if (ec != std::errc() || ptr != s.data() + i) return false;
  *unit = TrimBlanks(s.substr(i));
  return true;
}

}  // namespace

StatusOr<uint64_t> ParseBytes(std::string_view text) {
  std::string_view s = TrimBlanks(text);
  double number = 0;
  std::string_view unit;
  static constexpr std::pair<std::string_view, double> kUnits[] = {{"", 1},
                                                                   {"B", 1},
                                                                   {"KB", 1e3},
                                                                   {"MB", 1e6},
                                                                   {"GB", 1e9},
                                                                   {"TB", 1e12},
                                                                   {"KiB", 1024.0},
                                                                   {"MiB", 1048576.0},
                                                                   {"GiB", 1073741824.0},
                                                                   {"TiB", 1099511627776.0},
                                                                   {"K", 1024.0},
                                                                   {"M", 1048576.0},
                                                                   {"G", 1073741824.0}};
  if (SplitNumber(s, &number, &unit)) {
    for (const auto& [name, factor] : kUnits) {
      if (unit != name) continue;
      double bytes = number * factor;
      if (bytes > 1.8e19 || bytes != std::floor(bytes)) break;
      return static_cast<uint64_t>(bytes);
    }
  }
  return InvalidArgumentError("\"" + std::string(text) +
                              "\" is not a size (use bytes or a unit: 512KiB, 64MiB, 1GiB, 1GB)");
}

StatusOr<Millis> ParseDuration(std::string_view text) {
  std::string_view s = TrimBlanks(text);
  double number = 0;
  std::string_view unit;
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3}, {"", 1}};
  if (SplitNumber(s, &number, &unit)) {
    for (const auto& [name, factor] : kUnits) {
      if (unit != name) continue;
      double ms = number * factor;
      if (ms > 9e15 || ms != std::floor(ms)) break;
      return static_cast<Millis>(ms);
    }
  }
  return InvalidArgumentError("\"" + std::string(text) +
                              "\" is not a duration (use a unit: 250ms, 2s, 5m, 1h, 1d)");
}

std::string FormatBytes(uint64_t bytes) {
  static constexpr std::pair<const char*, uint64_t> kUnits[] = {
      {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
  for (const auto& [name, factor] : kUnits) {
    if (bytes != 0 && bytes % factor == 0) return std::to_string(bytes / factor) + name;
  }
  return std::to_string(bytes);
}

std::string FormatDuration(Millis ms) {
  static constexpr std::pair<const char*, Millis> kUnits[] = {
      {"h", 3600000}, {"m", 60000}, {"s", 1000}};
  for (const auto& [name, factor] : kUnits) {
    if (ms != 0 && ms % factor == 0) return std::to_string(ms / factor) + name;
  }
  return std::to_string(ms) + "ms";
}

}  // namespace podcache
