#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "core/mutex.h"

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

// Appends `s` to `out` as a JSON string: '"', '\\' and control characters are escaped, valid
// UTF-8 passes through as it is, and each maximal invalid UTF-8 subsequence becomes U+FFFD, so any
// bytes (an error message with binary in it) give valid JSON. What Log uses; public for tests.
void AppendJsonString(std::string_view s, std::string* out);

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

// Lets through one line per key every `interval_ms` and counts the others, for lines an outsider
// can trigger at will (refused handshakes, gRPC's own errors). Thread-safe.
class LogRateLimiter {
 public:
  explicit LogRateLimiter(long long interval_ms) : interval_ms_(interval_ms) {}
  // True when a line for `key` may be written now; `*suppressed` is then how many were refused
  // since the last one.
  bool Allow(const std::string& key, uint64_t* suppressed);
  bool Allow(int key, uint64_t* suppressed) { return Allow(std::to_string(key), suppressed); }

 private:
  struct Slot {
    long long last_ms = 0;
    uint64_t suppressed = 0;
    bool used = false;
  };
  const long long interval_ms_;
  Mutex mu_;
  std::map<std::string, Slot> slots_ GUARDED_BY(mu_);  // bounded by the callers' key sets
};

}  // namespace podcache
