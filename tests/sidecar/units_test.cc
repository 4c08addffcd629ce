#include "sidecar/units.h"

#include <doctest/doctest.h>

namespace podcache {

TEST_CASE("ParseBytes accepts SI and IEC units and rejects the rest") {
  CHECK(ParseBytes("4096").value() == 4096);
  CHECK(ParseBytes("64MiB").value() == 64ull << 20);
  CHECK(ParseBytes(" 1GiB ").value() == 1ull << 30);
  CHECK(ParseBytes("1GB").value() == 1000000000ull);
  CHECK(ParseBytes("512KiB").value() == 512ull << 10);
  CHECK(ParseBytes("1.5KiB").value() == 1536);
  CHECK(ParseBytes("0").value() == 0);
  for (const char* bad : {"", "MiB", "12XB", "-1", "1.3B", "1 2", "1e9"}) {
    INFO(bad);
    CHECK(ParseBytes(bad).status().code() == StatusCode::kInvalidArgument);
  }
  CHECK(ParseBytes("12XB").status().message().find("\"12XB\" is not a size") != std::string::npos);
}

TEST_CASE("ParseDuration accepts ms s m h d and bare milliseconds") {
  CHECK(ParseDuration("250ms").value() == 250);
  CHECK(ParseDuration("2s").value() == 2000);
  CHECK(ParseDuration("1.5s").value() == 1500);
  CHECK(ParseDuration("5m").value() == 300000);
  CHECK(ParseDuration("1h").value() == 3600000);
  CHECK(ParseDuration("1d").value() == 86400000);
  CHECK(ParseDuration("0").value() == 0);
  CHECK(ParseDuration("100").value() == 100);
  for (const char* bad : {"", "s", "5 minutes", "-1s", "0.5ms", "1y"}) {
    INFO(bad);
    CHECK(ParseDuration(bad).status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("FormatBytes and FormatDuration pick the largest exact unit") {
  CHECK(FormatBytes(64ull << 20) == "64MiB");
  CHECK(FormatBytes(1536) == "1536");
  CHECK(FormatBytes(0) == "0");
  CHECK(FormatDuration(300000) == "5m");
  CHECK(FormatDuration(1500) == "1500ms");
  CHECK(FormatDuration(0) == "0ms");
}

}  // namespace podcache
