#include "core/log.h"

#include <doctest/doctest.h>

#include <string>

namespace podcache {
namespace {

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

TEST_CASE("JSON log strings: ASCII, quotes, backslashes and control characters") {
  CHECK(Json("plain text") == "\"plain text\"");
  CHECK(Json("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(Json(std::string("\n\t\x01\x7f", 4)) == "\"\\u000a\\u0009\\u0001\\u007f\"");
  CHECK(Json(std::string("a\0b", 3)) == "\"a\\u0000b\"");
}

TEST_CASE("JSON log strings: valid UTF-8 passes through unchanged") {
  // 2, 3 and 4 byte sequences, and the bounds of each range.
  for (const char* s :
       {"caf\xc3\xa9", "\xe2\x82\xac 5", "\xf0\x9f\x98\x80", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80",
        "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
        "Gr\xc3\xbc\xc3\x9f \xe6\x97\xa5"}) {
    CAPTURE(s);
    CHECK(Json(s) == std::string("\"") + s + "\"");
  }
}

TEST_CASE("JSON log strings: invalid UTF-8 becomes U+FFFD, one per maximal invalid subsequence") {
  const std::string r = "\xef\xbf\xbd";                            // U+FFFD
  CHECK(Json("\x80") == "\"" + r + "\"");                          // a lone continuation byte
  CHECK(Json("a\xffz") == "\"a" + r + "z\"");                      // never valid in UTF-8
  CHECK(Json("\xc0\xaf") == "\"" + r + r + "\"");                  // overlong '/'
  CHECK(Json("\xe0\x80\xaf") == "\"" + r + r + r + "\"");          // overlong, 3 bytes
  CHECK(Json("\xed\xa0\x80") == "\"" + r + r + r + "\"");          // a UTF-16 surrogate
  CHECK(Json("\xf4\x90\x80\x80") == "\"" + r + r + r + r + "\"");  // above U+10FFFF
  CHECK(Json("\xf5\x80") == "\"" + r + r + "\"");
  CHECK(Json("\xe2\x82") == "\"" + r + "\"");                  // cut short at the end: one U+FFFD
  CHECK(Json("\xe2\x82z") == "\"" + r + "z\"");                // cut short before ASCII
  CHECK(Json("\xf0\x9f\x98") == "\"" + r + "\"");              // 3 of 4 bytes
  CHECK(Json("\xf0\x9f\xc3\xa9") == "\"" + r + "\xc3\xa9\"");  // cut short by another sequence
  CHECK(Json("\xe2\x82\"") == "\"" + r + "\\\"\"");            // cut short by an escaped character
}

}  // namespace
}  // namespace podcache
