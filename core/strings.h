#pragma once

#include <string_view>

namespace podcache {

// Small string helpers shared by every layer. ASCII only: no locale is consulted.

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }
inline bool IsAsciiSpace(char c) { return IsBlank(c) || (c >= '\n' && c <= '\r'); }

// `s` without leading and trailing spaces and tabs (HTTP's optional whitespace, "64 MiB").
inline std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// `s` without trailing whitespace (spaces, tabs, newlines, \v, \f, \r): the end of a file.
inline std::string_view TrimTrailingSpace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// `s` without leading and trailing whitespace (spaces, tabs, newlines, \v, \f, \r).
inline std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  return TrimTrailingSpace(s);
}

inline char AsciiToLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// True when `a` and `b` are equal but for the case of ASCII letters.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiToLower(a[i]) != AsciiToLower(b[i])) return false;
  }
  return true;
}

}  // namespace podcache
