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

// The length of the valid UTF-8 sequence at the start of `s`, or 0 if it does not start with
// one; then `*bad` is the length of its maximal invalid prefix (at least 1), which becomes one
// U+FFFD as Unicode's "best practice" for replacement says (and as Python and browsers decode).
size_t Utf8Sequence(std::string_view s, size_t* bad) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = byte(0);
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;  // the bounds of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;  // no overlong forms
    if (c == 0xed) hi = 0x9f;  // no surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;  // no overlong forms
    if (c == 0xf4) hi = 0x8f;  // nothing above U+10FFFF
  } else {
    *bad = 1;  // a continuation byte, C0, C1 or F5-FF: never valid here
    return 0;
  }
  for (size_t i = 1; i < len; ++i) {
    if (i >= s.size() || byte(i) < (i == 1 ? lo : 0x80) || byte(i) > (i == 1 ? hi : 0xbf)) {
      *bad = i;
      return 0;
    }
  }
  return len;
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out += '"';
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += static_cast<char>(c);
      ++i;
    } else if (c >= 0x20 && c < 0x7f) {
      *out += static_cast<char>(c);
      ++i;
    } else if (c < 0x80) {  // control characters and DEL
      *out += "\\u00";
      *out += kHex[c >> 4];
      *out += kHex[c & 15];
      ++i;
    } else {
      size_t bad = 0;
      size_t len = Utf8Sequence(s.substr(i), &bad);
      if (len > 0) {
        out->append(s.substr(i, len));
        i += len;
      } else {
        *out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
        i += bad;
      }
    }
  }
  *out += '"';
}

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
