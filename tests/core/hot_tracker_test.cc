#include "core/hot_tracker.h"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/hash.h"
#include "testing/fake_clock.h"

namespace podcache {

TEST_CASE("hot tracker: N requests within a window make a key hot") {
  FakeClock clock(0);
  HotTracker t(&clock, 3, 1000);
  uint64_t h = HashBytes("popular");
  CHECK_FALSE(t.RecordAndCheck(h));
  clock.Advance(100);
  CHECK_FALSE(t.RecordAndCheck(h));
  clock.Advance(100);
  CHECK(t.RecordAndCheck(h));
  CHECK(t.IsHot(h));
  CHECK_FALSE(t.IsHot(HashBytes("someone else")));
}

TEST_CASE("hot tracker: a key asked for once per window never becomes hot") {
  FakeClock clock(0);
  HotTracker t(&clock, 3, 1000);
  uint64_t h = HashBytes("lukewarm");
  for (int i = 0; i < 50; ++i) {
    CHECK_FALSE(t.RecordAndCheck(h));
    clock.Advance(1000);
  }
}

TEST_CASE("hot tracker: counts fade after two quiet windows") {
  FakeClock clock(0);
  HotTracker t(&clock, 3, 1000);
  uint64_t h = HashBytes("was hot");
  for (int i = 0; i < 5; ++i) t.RecordAndCheck(h);
  CHECK(t.IsHot(h));
  clock.Advance(1000);
  CHECK(t.IsHot(h));  // the previous window still counts
  clock.Advance(1000);
  CHECK_FALSE(t.IsHot(h));
  CHECK(t.Estimate(h) == 0);
}

TEST_CASE("hot tracker: many cold keys do not make an unrelated key hot") {
  FakeClock clock(0);
  HotTracker t(&clock, 3, 1000, 4096);
  for (int i = 0; i < 3000; ++i) t.RecordAndCheck(HashBytes("cold" + std::to_string(i)));
  int false_hot = 0;
  for (int i = 0; i < 1000; ++i) false_hot += t.IsHot(HashBytes("probe" + std::to_string(i)));
  CHECK(false_hot <= 10);  // count-min over-estimates only through 4-way collisions
}

TEST_SUITE("concurrency") {
  TEST_CASE("hot tracker: concurrent records across window moves keep the rule") {
    FakeClock clock(0);
    HotTracker t(&clock, /*promote_hits=*/3, /*window_ms=*/100);
    std::atomic<bool> stop{false};
    std::thread mover([&] {
      while (!stop) {
        clock.Advance(7);
        std::this_thread::yield();
      }
    });
    std::vector<std::thread> threads;
    for (int n = 0; n < 4; ++n) {
      threads.emplace_back([&, n] {
        for (uint64_t i = 0; i < 20000; ++i)
          t.RecordAndCheck(HashBytes(std::to_string(i % 64 + n)));
      });
    }
    for (auto& th : threads) th.join();
    stop = true;
    mover.join();
    // A hot key recorded again is hot; after two quiet windows nothing is.
    uint64_t h = HashBytes("key-0");
    for (int i = 0; i < 3; ++i) t.RecordAndCheck(h);
    CHECK(t.IsHot(h));
    clock.Advance(250);
    CHECK_FALSE(t.IsHot(h));
    CHECK(t.Estimate(HashBytes("1")) == 0);
  }
}

}  // namespace podcache
