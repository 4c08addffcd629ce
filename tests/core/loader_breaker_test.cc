#include "core/loader_breaker.h"

#include <doctest/doctest.h>

#include "testing/fake_clock.h"

namespace podcache {
namespace {

using Kind = LoaderBreaker::Transition::Kind;

LoaderBreaker::Options ThreeFailures() {
  LoaderBreaker::Options o;
  o.failures = 3;
  o.open_ms = 1000;
  o.max_open_ms = 4000;
  o.probe_timeout_ms = 500;
  return o;
}

}  // namespace

TEST_CASE("loader breaker: opens after N consecutive failures; a success in between resets") {
  FakeClock clock;
  LoaderBreaker b(ThreeFailures(), &clock);
  CHECK(b.RecordFailure(UnavailableError("down")).kind == Kind::kNone);
  CHECK(b.RecordFailure(UnavailableError("down")).kind == Kind::kNone);
  CHECK(b.RecordSuccess().kind == Kind::kNone);
  CHECK(b.RecordFailure(UnavailableError("down")).kind == Kind::kNone);
  CHECK(b.RecordFailure(UnavailableError("down")).kind == Kind::kNone);
  CHECK(b.Admit().allowed);
  LoaderBreaker::Transition t = b.RecordFailure(DeadlineExceededError("slow"));
  CHECK(t.kind == Kind::kOpened);
  CHECK(t.failures == 3);
  CHECK(t.open_ms == 1000);
  CHECK(t.last_error.find("slow") != std::string::npos);
  CHECK(b.open());
  LoaderBreaker::Admission a = b.Admit();
  CHECK_FALSE(a.allowed);
  CHECK(a.failures == 3);
  CHECK(a.retry_in_ms == 1000);
  clock.Advance(400);
  CHECK(b.Admit().retry_in_ms == 600);
  CHECK(b.Refusing());
  clock.Advance(600);
  CHECK_FALSE(b.Refusing());  // the next Admit is the probe
  REQUIRE(b.Admit().probe);
  CHECK(b.Refusing());  // while the probe runs
}

TEST_CASE("loader breaker: half-open lets one probe through; its failure doubles the open time") {
  FakeClock clock;
  LoaderBreaker b(ThreeFailures(), &clock);
  for (int i = 0; i < 3; ++i) (void)b.RecordFailure(UnavailableError("down"));
  Millis open = 1000;
  for (Millis expected : {2000, 4000, 4000}) {  // doubling, up to max_open_ms
    clock.Advance(open - 1);
    CHECK_FALSE(b.Admit().allowed);
    clock.Advance(1);
    LoaderBreaker::Admission probe = b.Admit();
    CHECK(probe.allowed);
    CHECK(probe.probe);
    CHECK_FALSE(b.Admit().allowed);  // one probe at a time
    LoaderBreaker::Transition t = b.RecordFailure(UnavailableError("still down"));
    CHECK(t.kind == Kind::kOpened);
    CHECK(t.open_ms == expected);
    CHECK(b.Admit().retry_in_ms == expected);
    open = expected;
  }
}

TEST_CASE("loader breaker: a successful probe closes it and resets the open time") {
  FakeClock clock;
  LoaderBreaker b(ThreeFailures(), &clock);
  for (int i = 0; i < 3; ++i) (void)b.RecordFailure(UnavailableError("down"));
  clock.Advance(1000);
  REQUIRE(b.Admit().probe);
  LoaderBreaker::Transition t = b.RecordSuccess();
  CHECK(t.kind == Kind::kClosed);
  CHECK(t.failures == 3);
  CHECK_FALSE(b.open());
  CHECK(b.Admit().allowed);
  CHECK_FALSE(b.Admit().probe);
  for (int i = 0; i < 3; ++i) (void)b.RecordFailure(UnavailableError("down"));
  CHECK(b.Admit().retry_in_ms == 1000);  // back to the first open time
}

TEST_CASE("loader breaker: a probe that never reports, or never ran, is replaced") {
  FakeClock clock;
  LoaderBreaker b(ThreeFailures(), &clock);
  for (int i = 0; i < 3; ++i) (void)b.RecordFailure(UnavailableError("down"));
  clock.Advance(1000);
  REQUIRE(b.Admit().probe);
  b.AbandonProbe();
  REQUIRE(b.Admit().probe);
  clock.Advance(499);
  CHECK_FALSE(b.Admit().allowed);
  clock.Advance(1);  // probe_timeout_ms
  CHECK(b.Admit().probe);
}

TEST_CASE("loader breaker: the last error it reports is bounded") {
  FakeClock clock;
  LoaderBreaker b(ThreeFailures(), &clock);
  LoaderBreaker::Transition t;
  for (int i = 0; i < 3; ++i) t = b.RecordFailure(UnavailableError(std::string(10000, 'x')));
  REQUIRE(t.kind == Kind::kOpened);
  CHECK(t.last_error.size() == LoaderBreaker::kMaxErrorBytes);
}

TEST_CASE("loader breaker: failures = 0 never opens") {
  FakeClock clock;
  LoaderBreaker::Options o = ThreeFailures();
  o.failures = 0;
  LoaderBreaker b(o, &clock);
  for (int i = 0; i < 100; ++i)
    CHECK(b.RecordFailure(UnavailableError("down")).kind == Kind::kNone);
  CHECK(b.Admit().allowed);
  CHECK_FALSE(b.open());
}

}  // namespace podcache
