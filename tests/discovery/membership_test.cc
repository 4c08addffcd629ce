#include "discovery/membership.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "testing/manual_scheduler.h"

namespace podcache {
namespace {

using Members = std::vector<std::string>;

// A Membership on a ManualScheduler that records every ring handed to on_ring, with what
// Ring() still answered at that moment.
struct Fixture {
  explicit Fixture(size_t max_members = 1024, Millis debounce_ms = 200) {
    MembershipOptions o;
    o.self = "self:7071";
    o.debounce_ms = debounce_ms;
    o.vnodes = 8;  // the members are what is under test, not the ring's balance
    o.max_members = max_members;
    membership = std::make_unique<Membership>(
        o, &scheduler, [](const std::string&) { return nullptr; },
        [this](const RingPtr& ring) {
          announced.push_back(ring->members());
          visible_during_announce.push_back(membership->Ring()->members());
        });
  }
  Members Current() const { return membership->Ring()->members(); }

  FakeClock clock{0};
  ManualScheduler scheduler{&clock};
  std::vector<Members> announced;
  std::vector<Members> visible_during_announce;
  std::unique_ptr<Membership> membership;
};

}  // namespace

TEST_CASE("membership: before any publish the ring is this node alone") {
  Fixture f;
  CHECK(f.Current() == Members{"self:7071"});
  CHECK(f.membership->publishes() == 0);
  CHECK(f.membership->Self() == "self:7071");
}

TEST_CASE("membership: a burst of updates within the debounce gives one ring at its end") {
  Fixture f(1024, /*debounce_ms=*/200);
  f.membership->Update("dns", {"b:7071"});
  f.clock.Advance(50);
  f.membership->Update("dns", {"b:7071", "c:7071"});
  f.clock.Advance(100);
  f.membership->Update("dns", {"a:7071", "b:7071", "c:7071"});
  CHECK(f.scheduler.pending() == 1);  // one publish is pending, however many updates came
  CHECK(f.scheduler.AdvanceAndRun(49) == 0);
  CHECK(f.membership->publishes() == 0);
  CHECK(f.Current() == Members{"self:7071"});
  // The publish is due 200 ms after the first update of the burst, and takes the last set.
  CHECK(f.scheduler.AdvanceAndRun(1) == 1);
  CHECK(f.membership->publishes() == 1);
  CHECK(f.Current() == Members{"a:7071", "b:7071", "c:7071", "self:7071"});
  REQUIRE(f.announced.size() == 1);
  CHECK(f.announced[0] == f.Current());
  // A later update starts a new debounce.
  f.membership->Update("dns", {"a:7071"});
  CHECK(f.scheduler.AdvanceAndRun(199) == 0);
  CHECK(f.scheduler.AdvanceAndRun(1) == 1);
  CHECK(f.Current() == Members{"a:7071", "self:7071"});
  CHECK(f.membership->publishes() == 2);
}

TEST_CASE("membership: this node is in its ring whatever the sources say") {
  Fixture f;
  f.membership->Update("static", {});
  f.scheduler.AdvanceAndRun(200);
  CHECK(f.Current() == Members{"self:7071"});
  f.membership->Update("static", {"z:7071", "self:7071", "a:7071"});
  f.scheduler.AdvanceAndRun(200);
  CHECK(f.Current() == Members{"a:7071", "self:7071", "z:7071"});  // once, in order
}

TEST_CASE("membership: the sets of all sources are merged - a source's new set replaces its old") {
  Fixture f;
  f.membership->Update("one", {"a:7071", "b:7071"});
  f.membership->Update("two", {"b:7071", "c:7071", ""});  // duplicates and empty names dropped
  f.scheduler.AdvanceAndRun(200);
  CHECK(f.Current() == Members{"a:7071", "b:7071", "c:7071", "self:7071"});
  f.membership->Update("one", {"d:7071"});
  f.scheduler.AdvanceAndRun(200);
  CHECK(f.Current() == Members{"b:7071", "c:7071", "d:7071", "self:7071"});
}

TEST_CASE("membership: a set larger than max_members keeps the smallest names and this node") {
  Fixture f(/*max_members=*/3);
  f.membership->Update("dns", {"e:7071", "d:7071", "c:7071", "b:7071", "a:7071"});
  f.scheduler.AdvanceAndRun(200);
  // Every node cuts the same oversized set the same way; this node is added after the cut.
  CHECK(f.Current() == Members{"a:7071", "b:7071", "c:7071", "self:7071"});
  f.membership->Update("dns", {"a:7071", "b:7071", "self:7071", "x:7071"});
  f.scheduler.AdvanceAndRun(200);
  CHECK(f.Current() == Members{"a:7071", "b:7071", "self:7071"});
}

TEST_CASE("membership: an update that leaves the fingerprint unchanged publishes nothing") {
  Fixture f;
  f.membership->Update("dns", {"a:7071", "b:7071"});
  f.scheduler.AdvanceAndRun(200);
  REQUIRE(f.membership->publishes() == 1);
  RingPtr first = f.membership->Ring();
  // The same members in another order, with a duplicate and this node spelled out.
  f.membership->Update("dns", {"b:7071", "a:7071", "a:7071", "self:7071"});
  f.scheduler.AdvanceAndRun(200);
  CHECK(f.membership->publishes() == 1);
  CHECK(f.announced.size() == 1);
  CHECK(f.membership->Ring() == first);  // the very same snapshot
  // A second source naming the same members changes nothing either.
  f.membership->Update("nats", {"a:7071"});
  f.scheduler.AdvanceAndRun(200);
  CHECK(f.membership->publishes() == 1);
}

TEST_CASE("membership: PublishNow publishes at once - even a ring equal to the first") {
  Fixture f;
  f.membership->PublishNow();  // start-up: the first ring is published without the debounce
  CHECK(f.membership->publishes() == 1);
  CHECK(f.announced == std::vector<Members>{{"self:7071"}});
  f.membership->PublishNow();
  CHECK(f.membership->publishes() == 1);  // the same fingerprint again: nothing new
  CHECK(f.scheduler.pending() == 0);
}

TEST_CASE("membership: on_ring sees each new ring before readers do") {
  Fixture f;
  f.membership->Update("dns", {"a:7071"});
  f.scheduler.AdvanceAndRun(200);
  f.membership->Update("dns", {"b:7071"});
  f.scheduler.AdvanceAndRun(200);
  REQUIRE(f.announced.size() == 2);
  CHECK(f.visible_during_announce[0] == Members{"self:7071"});
  CHECK(f.visible_during_announce[1] == Members{"a:7071", "self:7071"});
  CHECK(f.Current() == Members{"b:7071", "self:7071"});
}

}  // namespace podcache
