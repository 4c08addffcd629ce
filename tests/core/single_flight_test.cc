#include "core/single_flight.h"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/value_ref.h"
#include "testing/manual_scheduler.h"
#include "testing/wait.h"

namespace podcache {
namespace {

struct Result {
  Status status;
  ValueRef value;
};
Result Error(Status s) { return Result{std::move(s), {}}; }

}  // namespace

TEST_SUITE("concurrency") {
  TEST_CASE("single-flight: 1000 threads on one key make one load and get one result") {
    ThreadScheduler scheduler;
    scheduler.Start();
    SingleFlight<Result> flights(&scheduler, Error);
    std::atomic<int> loads{0};
    std::promise<SingleFlight<Result>::Done> work_started;
    auto done_future = work_started.get_future();

    constexpr int kThreads = 1000;
    std::vector<std::promise<Result>> results(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        flights.Do(
            "k", kNoDeadline, kNoDeadline,
            [&](SingleFlight<Result>::Done d) {
              loads++;
              work_started.set_value(std::move(d));
            },
            [&, i](const Result& r) { results[i].set_value(r); });
      });
    }
    for (auto& t : threads) t.join();  // every thread has joined the flight by now
    CHECK(flights.Waiters("k") == kThreads);
    REQUIRE_MESSAGE(testing::ReadyWithin(done_future), "the load did not start within 10 s");
    auto done = done_future.get();
    done(Result{OkStatus(), ValueRef::Make("k", 1, "the value")});
    const Entry* first = nullptr;
    for (auto& p : results) {
      std::future<Result> result = p.get_future();
      REQUIRE_MESSAGE(testing::ReadyWithin(result), "a waiter got no result within 10 s");
      Result r = result.get();
      REQUIRE(r.status.ok());
      REQUIRE(r.value.value() == "the value");
      if (!first) first = r.value.entry();
      REQUIRE(r.value.entry() == first);  // the same buffer, not copies
    }
    CHECK(loads == 1);
    CHECK(flights.InFlight() == 0);
    scheduler.Stop();
  }
}

TEST_CASE("single-flight: a throwing load completes every waiter - the next call loads again") {
  FakeClock clock;
  ManualScheduler scheduler(&clock);
  SingleFlight<Result> flights(&scheduler, Error);
  int loads = 0;
  std::vector<Status> got;
  SingleFlight<Result>::Done pending;
  // The first caller's work only captures Done; the second joins; then the work throws.
  auto throwing = [&](SingleFlight<Result>::Done) {
    loads++;
    throw std::runtime_error("database on fire");
  };
  flights.Do("k", kNoDeadline, kNoDeadline, throwing,
             [&](const Result& r) { got.push_back(r.status); });
  REQUIRE(got.size() == 1);
  CHECK(got[0].code() == StatusCode::kInternal);
  CHECK(got[0].message().find("database on fire") != std::string::npos);

  // Now with several waiters attached before the failure arrives as an error result.
  flights.Do(
      "k", kNoDeadline, kNoDeadline,
      [&](SingleFlight<Result>::Done d) {
        loads++;
        pending = std::move(d);
      },
      [&](const Result& r) { got.push_back(r.status); });
  for (int i = 0; i < 5; ++i) {
    bool started = flights.Do("k", kNoDeadline, kNoDeadline, throwing,
                              [&](const Result& r) { got.push_back(r.status); });
    CHECK_FALSE(started);
  }
  pending(Error(UnavailableError("db down")));
  REQUIRE(got.size() == 7);
  for (size_t i = 1; i < got.size(); ++i) CHECK(got[i].code() == StatusCode::kUnavailable);
  CHECK(loads == 2);
  // Failures are not remembered: the next call starts a new load.
  CHECK(flights.Do(
      "k", kNoDeadline, kNoDeadline,
      [&](SingleFlight<Result>::Done d) {
        loads++;
        d(Result{OkStatus(), {}});
      },
      [&](const Result& r) { got.push_back(r.status); }));
  CHECK(loads == 3);
  CHECK(got.back().ok());
}

TEST_CASE("single-flight: a waiter with a short deadline leaves while the load goes on") {
  FakeClock clock;
  ManualScheduler scheduler(&clock);
  SingleFlight<Result> flights(&scheduler, Error);
  SingleFlight<Result>::Done pending;
  std::vector<std::pair<char, Status>> got;
  Millis now = clock.NowMs();
  flights.Do(
      "k", kNoDeadline, now + 10'000, [&](SingleFlight<Result>::Done d) { pending = std::move(d); },
      [&](const Result& r) {
        got.push_back({'a', r.status});
      });
  flights.Do("k", now + 50, now + 1, nullptr, [&](const Result& r) {
    got.push_back({'b', r.status});
  });
  scheduler.AdvanceAndRun(49);
  CHECK(got.empty());
  scheduler.AdvanceAndRun(1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].first == 'b');
  CHECK(got[0].second.code() == StatusCode::kDeadlineExceeded);
  CHECK(flights.Waiters("k") == 1);  // the flight (and waiter a) go on
  pending(Result{OkStatus(), ValueRef::Make("k", 1, "v")});
  REQUIRE(got.size() == 2);
  CHECK(got[1].first == 'a');
  CHECK(got[1].second.ok());
  CHECK(scheduler.pending() == 0);  // timers of finished flights are cancelled
}

TEST_CASE("single-flight: the load's own deadline ends the flight - a late result is ignored") {
  FakeClock clock;
  ManualScheduler scheduler(&clock);
  SingleFlight<Result> flights(&scheduler, Error);
  SingleFlight<Result>::Done pending;
  std::vector<Status> got;
  flights.Do(
      "k", kNoDeadline, clock.NowMs() + 100,
      [&](SingleFlight<Result>::Done d) { pending = std::move(d); },
      [&](const Result& r) { got.push_back(r.status); });
  scheduler.AdvanceAndRun(100);
  REQUIRE(got.size() == 1);
  CHECK(got[0].code() == StatusCode::kDeadlineExceeded);
  CHECK(flights.InFlight() == 0);
  pending(Result{OkStatus(), {}});  // too late: nobody hears it
  CHECK(got.size() == 1);
}

TEST_CASE("single-flight: different keys do not merge") {
  FakeClock clock;
  ManualScheduler scheduler(&clock);
  SingleFlight<Result> flights(&scheduler, Error);
  int loads = 0;
  auto work = [&](SingleFlight<Result>::Done) { loads++; };
  CHECK(flights.Do("a", kNoDeadline, kNoDeadline, work, [](const Result&) {}));
  CHECK(flights.Do("b", kNoDeadline, kNoDeadline, work, [](const Result&) {}));
  CHECK(loads == 2);
  CHECK(flights.InFlight() == 2);
}

}  // namespace podcache
