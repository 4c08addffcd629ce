#include "core/latency_window.h"

#include <doctest/doctest.h>

#include "testing/fake_clock.h"

namespace podcache {

TEST_CASE("latency window: no quantile before enough samples") {
  FakeClock clock(0);
  LatencyWindow w(&clock, 1000);
  for (int i = 0; i < 19; ++i) w.Record(5);
  CHECK(w.Quantile(0.99) == 0);
  w.Record(5);
  CHECK(w.Quantile(0.99) == 5);
  CHECK(w.Samples() == 20);
}

TEST_CASE("latency window: quantiles are exact below 32 ms and at most 12.5% high above") {
  FakeClock clock(0);
  LatencyWindow w(&clock, 1000);
  for (int i = 0; i < 98; ++i) w.Record(3);
  w.Record(200);
  w.Record(1000);
  CHECK(w.Quantile(0.5) == 3);
  CHECK(w.Quantile(0.98) == 3);
  Millis p99 = w.Quantile(0.99);
  CHECK(p99 >= 200);
  CHECK(p99 <= 225);
  Millis max = w.Quantile(1.0);
  CHECK(max >= 1000);
  CHECK(max <= 1125);
}

TEST_CASE("latency window: old windows are forgotten") {
  FakeClock clock(0);
  LatencyWindow w(&clock, 1000);
  for (int i = 0; i < 50; ++i) w.Record(800);
  clock.Advance(1000);  // a new window: the old one still counts
  for (int i = 0; i < 50; ++i) w.Record(2);
  CHECK(w.Samples() == 100);
  CHECK(w.Quantile(0.99) >= 800);
  clock.Advance(1000);  // the slow window is now two behind
  CHECK(w.Samples() == 50);
  CHECK(w.Quantile(0.99) == 2);
  clock.Advance(5000);  // silence empties both
  CHECK(w.Samples() == 0);
  CHECK(w.Quantile(0.5, 1) == 0);
}

TEST_CASE("latency window: negative and huge latencies land in the end buckets") {
  FakeClock clock(0);
  LatencyWindow w(&clock, 1000);
  w.Record(-5);
  CHECK(w.Quantile(1.0, 1) == 0);
  w.Record(INT64_MAX);
  CHECK(w.Quantile(1.0, 1) >= (Millis{1} << 32) - 1);
}

}  // namespace podcache
