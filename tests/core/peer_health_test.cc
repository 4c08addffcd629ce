// PeerHealthTracker: the outlier detection state machine on a FakeClock and a ManualScheduler.
#include "core/peer_health.h"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "testing/fake_clock.h"
#include "testing/manual_scheduler.h"

namespace podcache {
namespace {

// A tracker whose probes are recorded and answered by the test.
struct HealthTest {
  explicit HealthTest(PeerHealthOptions o = {3, 1000, 10000})
      : tracker("peer-a:7071", o, &clock, &scheduler,
                [this](auto done) { probes.push_back(std::move(done)); }) {}
  void Fail(int n = 1, CallOutcome how = CallOutcome::kUnavailable) {
    for (int i = 0; i < n; ++i) tracker.Record(how, 1000, 0, "connection refused");
  }
  void Answer(Millis latency = 1) { tracker.Record(CallOutcome::kAnswered, 1000, latency, ""); }
  // Answers the oldest unanswered probe.
  void AnswerProbe(CallOutcome how) {
    REQUIRE(!probes.empty());
    auto done = std::move(probes.front());
    probes.erase(probes.begin());
    done(how, how == CallOutcome::kAnswered ? "" : "still down");
  }
  bool GetRefused() { return !tracker.CheckGet().ok(); }

  FakeClock clock;
  ManualScheduler scheduler{&clock};
  std::vector<std::function<void(CallOutcome, std::string_view)>> probes;
  PeerHealthTracker tracker;
};

}  // namespace

TEST_CASE_FIXTURE(HealthTest, "peer health: up -> suspect on a failure -> up on a success") {
  CHECK(tracker.health() == PeerHealth::kUp);
  Fail();
  CHECK(tracker.health() == PeerHealth::kSuspect);
  CHECK_FALSE(GetRefused());  // a suspect is still called
  Answer();
  CHECK(tracker.health() == PeerHealth::kUp);
  CHECK(tracker.Snapshot().consecutive_failures == 0);
  // The count of consecutive failures starts again after a success.
  Fail(2);
  Answer();
  Fail(2);
  CHECK(tracker.health() == PeerHealth::kSuspect);
  CHECK(tracker.Snapshot().ejections == 0);
}

TEST_CASE_FIXTURE(HealthTest, "peer health: the last answer's time moves with answers only") {
  CHECK(tracker.LastAnswerMs() == 0);
  clock.Advance(100);
  Answer();
  Millis answered = clock.NowMs();
  CHECK(tracker.LastAnswerMs() == answered);
  clock.Advance(100);
  Fail();
  Fail(1, CallOutcome::kTimeout);
  CHECK(tracker.LastAnswerMs() == answered);
  clock.Advance(100);
  Answer();
  CHECK(tracker.LastAnswerMs() == clock.NowMs());
}

TEST_CASE_FIXTURE(HealthTest, "peer health: eject_failures in a row eject; Gets are refused") {
  Fail(2, CallOutcome::kTimeout);
  CHECK(tracker.health() == PeerHealth::kSuspect);
  Fail(1, CallOutcome::kUnavailable);  // both kinds count
  CHECK(tracker.health() == PeerHealth::kEjected);
  PeerHealthSnapshot s = tracker.Snapshot();
  CHECK(s.ejections == 1);
  CHECK(s.consecutive_failures == 3);
  CHECK(s.ejected_ms_left == 1000);
  CHECK(s.timeouts == 2);
  CHECK(s.unavailable == 1);
  Status refused = tracker.CheckGet(4);
  CHECK(refused.code() == StatusCode::kUnavailable);
  CHECK(refused.message() ==
        "peer peer-a:7071 is ejected for 1000 ms more after 3 failed calls in a row (timeouts or "
        "connection failures); misses on its keys are loaded locally");
  CHECK(tracker.Snapshot().ejected_rejects == 4);
  clock.Advance(400);
  CHECK(tracker.Snapshot().ejected_ms_left == 600);
}

TEST_CASE_FIXTURE(HealthTest, "peer health: a timeout counts only with at least twice the p99") {
  for (int i = 0; i < 20; ++i) Answer(20);  // p99 = 20 ms
  CHECK(tracker.LatencyP99Ms() == 20);
  CHECK(PeerHealthTracker::TimeoutCounts(40, 20));
  CHECK_FALSE(PeerHealthTracker::TimeoutCounts(39, 20));
  CHECK(PeerHealthTracker::TimeoutCounts(1, 0));  // no p99 yet: any budget counts
  for (int i = 0; i < 5; ++i) tracker.Record(CallOutcome::kTimeout, 39, 0, "deadline");
  CHECK(tracker.health() == PeerHealth::kUp);  // the caller's own deadline was too short
  CHECK(tracker.Snapshot().timeouts == 0);
  tracker.Record(CallOutcome::kTimeout, 40, 0, "deadline");
  CHECK(tracker.health() == PeerHealth::kSuspect);
  // Cancelled calls say nothing about the peer.
  tracker.Record(CallOutcome::kIgnored, 1000, 0, "cancelled");
  CHECK(tracker.Snapshot().consecutive_failures == 1);
}

TEST_CASE_FIXTURE(HealthTest, "peer health: without enough samples the p99 is unknown") {
  CHECK(tracker.LatencyP99Ms() == 0);
  for (int i = 0; i < 19; ++i) Answer(0);
  CHECK(tracker.LatencyP99Ms() == 0);
  Answer(0);
  CHECK(tracker.LatencyP99Ms() == 1);  // sub-millisecond answers: 1, so 0 keeps meaning unknown
}

TEST_CASE_FIXTURE(HealthTest, "peer health: the ejection ends with one probe - success is up") {
  Fail(3);
  REQUIRE(scheduler.pending() == 1);
  CHECK(scheduler.AdvanceAndRun(999) == 0);
  CHECK(probes.empty());
  CHECK(scheduler.AdvanceAndRun(1) == 1);
  REQUIRE(probes.size() == 1);
  // Still ejected while the probe is out: Gets wait for its answer.
  CHECK(tracker.health() == PeerHealth::kEjected);
  Status refused = tracker.CheckGet();
  CHECK(refused.message().find("is ejected until a probe succeeds") != std::string::npos);
  CHECK(tracker.Snapshot().ejected_ms_left == 0);
  AnswerProbe(CallOutcome::kAnswered);
  CHECK(tracker.health() == PeerHealth::kUp);
  CHECK_FALSE(GetRefused());
  CHECK(tracker.Snapshot().probes == 1);
  CHECK(scheduler.pending() == 0);
}

TEST_CASE_FIXTURE(HealthTest,
                  "peer health: a failed probe ejects again for twice as long, up to the cap") {
  Fail(3);
  std::vector<Millis> lengths;
  for (int i = 0; i < 6; ++i) {
    Millis left = tracker.Snapshot().ejected_ms_left;
    lengths.push_back(left);
    scheduler.AdvanceAndRun(left);
    REQUIRE(probes.size() == 1);
    AnswerProbe(i == 0 ? CallOutcome::kTimeout : CallOutcome::kUnavailable);
    CHECK(tracker.health() == PeerHealth::kEjected);
  }
  CHECK(lengths == std::vector<Millis>{1000, 2000, 4000, 8000, 10000, 10000});
  CHECK(tracker.Snapshot().ejections == 7);
  CHECK(tracker.Snapshot().probes == 6);
  // A success resets the doubling: the next ejection is 1 s again.
  scheduler.AdvanceAndRun(10000);
  AnswerProbe(CallOutcome::kAnswered);
  CHECK(tracker.health() == PeerHealth::kUp);
  Fail(3);
  CHECK(tracker.Snapshot().ejected_ms_left == 1000);
}

TEST_CASE_FIXTURE(HealthTest, "peer health: a call that succeeds while ejected ends the ejection") {
  Fail(3);
  Answer();  // e.g. a Set, which is sent while ejected
  CHECK(tracker.health() == PeerHealth::kUp);
  CHECK_FALSE(GetRefused());
  // The probe task finds the peer up and sends nothing.
  scheduler.AdvanceAndRun(1000);
  CHECK(probes.empty());
  // Failures while ejected, before its end, neither extend nor double it.
  Fail(3);
  Fail(5);
  CHECK(tracker.Snapshot().ejections == 2);
  CHECK(tracker.Snapshot().ejected_ms_left == 1000);
}

TEST_CASE_FIXTURE(HealthTest,
                  "peer health: a probe answered after the tracker is gone is a no-op") {
  std::vector<std::function<void(CallOutcome, std::string_view)>> outstanding;
  {
    PeerHealthTracker t("peer-b:7071", {1, 100, 1000}, &clock, &scheduler,
                        [&](auto done) { outstanding.push_back(std::move(done)); });
    t.Record(CallOutcome::kUnavailable, 1000, 0, "refused");
    CHECK(t.health() == PeerHealth::kEjected);
    scheduler.AdvanceAndRun(100);
    REQUIRE(outstanding.size() == 1);
    t.Record(CallOutcome::kUnavailable, 1000, 0, "refused");  // ejected again: a new task
    CHECK(scheduler.pending() == 1);
  }
  // The queued probe task and the outstanding probe's answer find the tracker gone.
  CHECK(scheduler.AdvanceAndRun(200) == 1);
  CHECK(outstanding.size() == 1);
  outstanding[0](CallOutcome::kAnswered, "");
}

TEST_CASE("peer health: without a scheduler the ejection ends by itself and calls decide") {
  FakeClock clock;
  PeerHealthTracker t("peer-c:7071", {2, 100, 1000}, &clock, nullptr, nullptr);
  t.Record(CallOutcome::kUnavailable, 1000, 0, "refused");
  t.Record(CallOutcome::kUnavailable, 1000, 0, "refused");
  CHECK_FALSE(t.CheckGet().ok());
  clock.Advance(100);
  CHECK(t.CheckGet().ok());
  t.Record(CallOutcome::kUnavailable, 1000, 0, "refused");
  CHECK(t.Snapshot().ejected_ms_left == 200);
  clock.Advance(200);
  t.Record(CallOutcome::kAnswered, 1000, 3, "");
  CHECK(t.health() == PeerHealth::kUp);
}

TEST_SUITE("concurrency") {
  TEST_CASE("peer health: concurrent outcomes and checks keep the counts exact") {
    FakeClock clock;
    ManualScheduler scheduler(&clock);
    PeerHealthTracker t("peer-d:7071", {3, 1000, 10000}, &clock, &scheduler, nullptr);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        for (int n = 0; n < 1000; ++n) {
          if ((n + i) % 2 == 0) {
            t.Record(CallOutcome::kAnswered, 1000, 1, "");
          } else {
            t.Record(CallOutcome::kTimeout, 1000, 0, "deadline");
          }
          (void)t.CheckGet();
          (void)t.Snapshot();
        }
      });
    }
    for (auto& th : threads) th.join();
    PeerHealthSnapshot s = t.Snapshot();
    CHECK(s.timeouts == 2000);  // every budget is above twice the p99
    CHECK(s.unavailable == 0);
  }
}

}  // namespace podcache
