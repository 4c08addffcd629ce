#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace podcache {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// One field of a log line: a name and a string, integer or bool value.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), text(v) {}
  LogField(std::string_view k, const char* v) : key(k), text(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), text(v) {}
  LogField(std::string_view k, long long v) : key(k), number(v), is_number(true) {}
  LogField(std::string_view k, int v) : key(k), number(v), is_number(true) {}
  LogField(std::string_view k, long v) : key(k), number(v), is_number(true) {}
  LogField(std::string_view k, unsigned long v)
      : key(k), number(static_cast<long long>(v)), is_number(true) {}
  LogField(std::string_view k, unsigned v) : key(k), number(v), is_number(true) {}
  std::string_view key;
  std::string_view text;
  long long number = 0;
  bool is_number = false;
};

// Structured logs (no JSON library: core has none): one JSON object per line on stdout,
//   {"ts":"2026-11-22T07:59:01.123Z","level":"info","msg":"listening","addr":"127.0.0.1:7070"}
// Thread-safe; a line is written with one write(2) so lines never interleave. Keys and values of
// the cache are never logged at info level or above.
void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view name, LogLevel* out);
bool LogEnabled(LogLevel level);
void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

inline void LogDebug(std::string_view m, std::initializer_list<LogField> f = {}) {
  if (LogEnabled(LogLevel::kDebug)) Log(LogLevel::kDebug, m, f);
}
inline void LogInfo(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarn(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarn, m, f);
}
inline void LogError(std::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, m, f);
}

}  // namespace podcache
