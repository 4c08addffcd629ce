#include "core/scheduler.h"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <vector>

namespace podcache {

TEST_CASE("manual scheduler: tasks run in time order when the clock reaches them") {
  FakeClock clock(0);
  ManualScheduler s(&clock);
  std::vector<int> ran;
  s.RunAt(30, [&] { ran.push_back(3); });
  s.RunAt(10, [&] { ran.push_back(1); });
  auto id = s.RunAt(20, [&] { ran.push_back(2); });
  CHECK(s.Cancel(id));
  CHECK_FALSE(s.Cancel(id));
  CHECK(s.AdvanceAndRun(9) == 0);
  CHECK(s.AdvanceAndRun(21) == 2);
  CHECK(ran == std::vector<int>{1, 3});
}

TEST_SUITE("concurrency") {
  TEST_CASE("thread scheduler: runs due tasks - cancels - and stops cleanly with tasks pending") {
    ThreadScheduler s;
    s.Start();
    std::promise<void> ran;
    std::atomic<int> cancelled_ran{0};
    auto id = s.RunAfter(20, [&] { cancelled_ran++; });
    s.RunAfter(1, [&] { ran.set_value(); });
    CHECK(s.Cancel(id));
    ran.get_future().wait();
    s.RunAfter(60'000, [&] { cancelled_ran++; });  // dropped by Stop
    s.Stop();
    CHECK(cancelled_ran == 0);
  }
}

}  // namespace podcache
