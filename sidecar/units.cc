#include "sidecar/units.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <span>
#include <utility>

#include "core/strings.h"

namespace podcache {
namespace {

using UnitTable = std::span<const std::pair<std::string_view, double>>;

// "12.5MiB" with the unit table {..., {"MiB", 1048576}, ...} → 13107200: a number (digits and
// '.') and one of the units, blanks around ignored. Nothing when the unit is unknown or the
// result is not a whole number in [0, max].
std::optional<double> ParseScaled(std::string_view text, UnitTable units, double max) {
  std::string_view s = TrimBlanks(text);
  size_t i = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
  double number = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + i, number);
  if (i == 0 || ec != std::errc() || ptr != s.data() + i) return std::nullopt;
  std::string_view unit = TrimBlanks(s.substr(i));
  for (const auto& [name, factor] : units) {
    if (unit != name) continue;
    double scaled = number * factor;
    if (scaled > max || scaled != std::floor(scaled)) return std::nullopt;
    return scaled;
  }
  return std::nullopt;
}

// `value` in the largest unit of `units` (largest first) that divides it, else with `plain`.
template <typename T>
std::string FormatScaled(T value, std::span<const std::pair<const char*, T>> units,
                         const char* plain) {
  for (const auto& [name, factor] : units) {
    if (value != 0 && value % factor == 0) return std::to_string(value / factor) + name;
  }
  return std::to_string(value) + plain;
}

}  // namespace

StatusOr<uint64_t> ParseBytes(std::string_view text) {
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
  if (auto bytes = ParseScaled(text, kUnits, 1.8e19)) return static_cast<uint64_t>(*bytes);
  return InvalidArgumentError("\"" + std::string(text) +
                              "\" is not a size (use bytes or a unit: 512KiB, 64MiB, 1GiB, 1GB)");
}

StatusOr<Millis> ParseDuration(std::string_view text) {
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3}, {"", 1}};
  if (auto ms = ParseScaled(text, kUnits, 9e15)) return static_cast<Millis>(*ms);
  return InvalidArgumentError("\"" + std::string(text) +
                              "\" is not a duration (use a unit: 250ms, 2s, 5m, 1h, 1d)");
}

std::string FormatBytes(uint64_t bytes) {
  static constexpr std::pair<const char*, uint64_t> kUnits[] = {
      {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}};
  return FormatScaled<uint64_t>(bytes, kUnits, "");
}

std::string FormatDuration(Millis ms) {
  static constexpr std::pair<const char*, Millis> kUnits[] = {
      {"h", 3600000}, {"m", 60000}, {"s", 1000}};
  return FormatScaled<Millis>(ms, kUnits, "ms");
}

}  // namespace podcache
