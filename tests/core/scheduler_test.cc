#include "core/scheduler.h"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "testing/manual_scheduler.h"
#include "testing/wait.h"

namespace podcache {

using testing::ReadyWithin;
using testing::WaitUntil;

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
    std::promise<void> ran;
    std::atomic<int> cancelled_ran{0};
    ThreadScheduler s;  // declared after what its tasks use: stopped before that is destroyed
    s.Start();
    auto id = s.RunAfter(20, [&] { cancelled_ran++; });
    s.RunAfter(1, [&] { ran.set_value(); });
    CHECK(s.Cancel(id));
    REQUIRE_MESSAGE(ReadyWithin(ran.get_future()), "a task due in 1 ms did not run within 10 s");
    s.RunAfter(60'000, [&] { cancelled_ran++; });  // dropped by Stop
    s.Stop();
    CHECK(cancelled_ran == 0);
  }

  TEST_CASE("thread scheduler: a task earlier than the one the loop sleeps for wakes it") {
    // The loop sleeps until the 60 s task; RunAt skips the wake-up only for later tasks, so
    // the near ones, added from many threads at once, must still run.
    std::atomic<int> ran{0};
    ThreadScheduler s;
    s.Start();
    s.RunAfter(60'000, [] {});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 200; ++i) {
          s.RunAfter(i % 3, [&] { ran++; });
          s.RunAfter(30'000 + i, [] {});  // later than the loop's wake-up: no notify
        }
      });
    }
    for (auto& t : threads) t.join();
    REQUIRE_MESSAGE(WaitUntil([&] { return ran.load() >= 800; }),
                    "only " << ran.load() << " of 800 near tasks ran within 10 s");
    s.Stop();
    CHECK(ran == 800);
  }
}

}  // namespace podcache
