#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

#include "core/clock.h"

namespace podcache {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
constexpr const char* kLevelNames[] = {"debug", "info", "warn", "error"};

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms.count()));
  return buf;
}

// Appends `s` as a JSON string. Bytes that are not printable ASCII are escaped as \u00XX, so any
// input (an error message with binary in it) gives valid JSON.
void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      *out += static_cast<char>(c);
    } else {
      *out += "\\u00";
      *out += kHex[c >> 4];
      *out += kHex[c & 15];
    }
  }
  *out += '"';
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  for (int i = 0; i < 4; ++i) {
    if (name == kLevelNames[i]) {
      *out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string text = "{\"ts\":\"" + Timestamp() + "\",\"level\":\"" +
                     kLevelNames[static_cast<int>(level)] + "\",\"msg\":";
  AppendJsonString(msg, &text);
  for (const LogField& f : fields) {
    text += ',';
    AppendJsonString(f.key, &text);
    text += ':';
    if (f.is_number) {
      text += std::to_string(f.number);
    } else {
      AppendJsonString(f.text, &text);
    }
  }
  text += "}\n";
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(STDOUT_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

bool LogRateLimiter::Allow(const std::string& key, uint64_t* suppressed) {
  long long now = SystemClock::Get()->NowMs();
  MutexLock lock(&mu_);
  Slot& slot = slots_[key];
  if (slot.used && now - slot.last_ms < interval_ms_) {
    ++slot.suppressed;
    return false;
  }
  *suppressed = slot.suppressed;
  slot = Slot{now, 0, true};
  return true;
}

}  // namespace podcache
