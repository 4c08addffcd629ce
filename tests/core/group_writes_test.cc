// Writes that answer once the owner applied them, and invalidation repair (core/propagation.h).
#include <doctest/doctest.h>

#include <algorithm>

#include "tests/core/group_fakes.h"

namespace podcache {
using namespace group_test;

namespace {

// A write answered later: what its callback got, once it ran.
struct Answer {
  bool done = false;
  WriteResult result;
  Group::WriteCallback Fn() {
    return [this](const WriteResult& r) {
      done = true;
      result = r;
    };
  }
};

KeyspaceOptions HotOptions() {
  KeyspaceOptions o = Options();
  o.hot_promote_hits = 1;  // every fetched key gets a hot copy
  return o;
}

// The members with drops or generation bumps not yet acknowledged, and how many.
std::vector<std::pair<std::string, uint64_t>> Pending(const Group& g) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& p : g.PendingRepairs()) {
    if (p.second > 0) out.push_back(p);
  }
  return out;
}

// Runs every node's repair loop once.
void Tick(FakeCluster& c) { c.scheduler.AdvanceAndRun(200); }

}  // namespace

TEST_CASE("writes: the answer carries the owner's counts of members acked and pending") {
  FakeCluster c(3, Options());
  std::string key = c.KeyOwnedBy(2);
  WriteResult set = c.nodes[0]->group->SetSync(key, "v", -1);  // forwarded to node 2
  CHECK(set.status.ok());
  CHECK(set.members_acked == 2);
  CHECK(set.members_pending == 0);
  WriteResult del = c.nodes[2]->group->DeleteSync(key);  // on the owner
  CHECK(del.status.ok());
  CHECK(del.members_acked == 2);
  // A single node has no one to tell.
  SoloNode solo;
  WriteResult alone = solo.Start()->SetSync("k", "v", -1);
  CHECK(alone.status.ok());
  CHECK(alone.members_acked == 0);
  CHECK(alone.members_pending == 0);
}

TEST_CASE("writes: a hung member holds the write no longer than write_ack_wait, counted pending") {
  GroupEnv env;
  env.write_ack_wait_ms = 50;
  FakeCluster c(3, HotOptions(), env);
  std::string key = c.KeyOwnedBy(2);
  CHECK(c.nodes[1]->group->GetSync(key).source == ValueSource::kPeer);
  CHECK(c.nodes[1]->group->GetSync(key).source == ValueSource::kHot);
  c.nodes[1]->hold_drops = true;  // node 1 hangs: its Repair calls never answer
  Answer a;
  c.nodes[0]->group->Set(key, "new", -1, WriteOptions{}, a.Fn());
  REQUIRE(c.nodes[1]->held_drops.size() == 1);
  CHECK_FALSE(a.done);
  c.scheduler.AdvanceAndRun(49);
  CHECK_FALSE(a.done);
  c.scheduler.AdvanceAndRun(1);
  REQUIRE(a.done);
  CHECK(a.result.status.ok());
  CHECK(a.result.members_acked == 1);  // node 0 (the owner, node 2, applied it)
  CHECK(a.result.members_pending == 1);
  CHECK(c.nodes[2]->group->GetSync(key).value.value() == "new");
  // Node 1 resumes: the held call completes and its old hot copy is gone.
  c.nodes[1]->hold_drops = false;
  c.nodes[1]->held_drops[0](OkStatus());
  CHECK(c.nodes[1]->group->GetSync(key).value.value() == "new");
  CHECK(Pending(*c.nodes[2]->group).empty());
}

TEST_CASE("writes: an ejected member is not waited for at all") {
  FakeCluster c(3, Options());
  std::string key = c.KeyOwnedBy(0);
  c.nodes[1]->Cut();  // its clients see it ejected, and calls fail at once
  Answer a;
  c.nodes[0]->group->Set(key, "v", -1, WriteOptions{}, a.Fn());
  REQUIRE(a.done);  // without the scheduler running: nothing was waited for
  CHECK(a.result.status.ok());
  CHECK(a.result.members_acked == 1);
  CHECK(a.result.members_pending == 1);
  Answer inv;
  c.nodes[0]->group->Invalidate(inv.Fn());
  REQUIRE(inv.done);
  CHECK(inv.result.members_acked == 1);
  CHECK(inv.result.members_pending == 1);
  // Both wait in node 1's queue: the key and the generation.
  auto pending = Pending(*c.nodes[0]->group);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].first == c.nodes[1]->name);
  CHECK(pending[0].second == 2);
}

TEST_CASE("writes: a write forwarded to an unreachable owner fails honestly") {
  FakeCluster c(3, Options());
  std::string key = c.KeyOwnedBy(2);
  c.nodes[2]->Cut();
  WriteResult r = c.nodes[0]->group->SetSync(key, "v", -1);
  CHECK(r.status.code() == StatusCode::kUnavailable);
  CHECK(c.nodes[0]->group->DeleteSync(key).status.code() == StatusCode::kUnavailable);
}

TEST_CASE(
    "repair: undelivered drops are coalesced, one call in flight, delivered when it answers") {
  FakeCluster c(3, HotOptions());
  Tick(c);  // the first tick syncs with every member (they are new)
  std::vector<std::string> keys;
  for (int i = 0; i < 3; ++i) keys.push_back(c.KeyOwnedBy(0, "k" + std::to_string(i) + "-"));
  for (const auto& k : keys) {
    c.nodes[1]->group->GetSync(k);
    CHECK(c.nodes[1]->group->GetSync(k).source == ValueSource::kHot);
  }
  c.nodes[1]->hold_drops = true;
  Group& owner = *c.nodes[0]->group;
  for (const auto& k : keys) {
    Answer a;
    owner.Set(k, "new", -1, WriteOptions{}, a.Fn());
    c.scheduler.AdvanceAndRun(50);  // write_ack_wait
    CHECK(a.done);
  }
  // Only the first key's call left; the others wait for it (one call in flight per member).
  REQUIRE(c.nodes[1]->held_drops.size() == 1);
  auto first = std::move(c.nodes[1]->held_drops[0]);
  c.nodes[1]->held_drops.clear();
  first(UnavailableError("deadline exceeded"));  // it times out: now it needs repair
  CHECK(owner.Stats()[KeyspaceStats::kRepairsQueued] == 1);
  CHECK(c.nodes[1]->held_drops.empty());  // retried by the loop, not at once
  auto pending = Pending(owner);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].second == 3);
  c.scheduler.AdvanceAndRun(50);                // the loop's next tick (at 200 ms)
  REQUIRE(c.nodes[1]->held_drops.size() == 1);  // all three keys in one call
  c.nodes[1]->hold_drops = false;
  c.nodes[1]->held_drops[0](OkStatus());
  REQUIRE(c.nodes[1]->repairs_received.size() == 1);
  std::vector<std::string> got = c.nodes[1]->repairs_received[0].keys;
  std::sort(got.begin(), got.end());
  std::vector<std::string> want = keys;
  std::sort(want.begin(), want.end());
  CHECK(got == want);
  CHECK(owner.Stats()[KeyspaceStats::kRepairsDelivered] == 1);
  CHECK(Pending(owner).empty());
  for (const auto& k : keys) CHECK(c.nodes[1]->group->GetSync(k).value.value() == "new");
}

TEST_CASE("writes: drops queued behind a call in flight leave together once it answers") {
  GroupEnv env;
  env.write_ack_wait_ms = 0;  // answer at once: this test is about the calls
  FakeCluster c(2, Options(), env);
  Group& owner = *c.nodes[0]->group;
  c.nodes[1]->hold_drops = true;
  std::string k1 = c.KeyOwnedBy(0, "a"), k2 = c.KeyOwnedBy(0, "b"), k3 = c.KeyOwnedBy(0, "c");
  for (const auto& k : {k1, k2, k3}) {
    WriteResult r = owner.SetSync(k, "v", -1);
    CHECK(r.status.ok());
    CHECK(r.members_pending == 1);
  }
  REQUIRE(c.nodes[1]->held_drops.size() == 1);
  auto first = std::move(c.nodes[1]->held_drops[0]);
  c.nodes[1]->held_drops.clear();
  first(OkStatus());
  c.scheduler.RunDue();
  REQUIRE(c.nodes[1]->held_drops.size() == 1);
  c.nodes[1]->held_drops[0](OkStatus());
  REQUIRE(c.nodes[1]->repairs_received.size() == 2);
  CHECK(c.nodes[1]->repairs_received[0].keys == std::vector<std::string>{k1});
  std::vector<std::string> rest = c.nodes[1]->repairs_received[1].keys;
  std::sort(rest.begin(), rest.end());
  std::vector<std::string> want = {k2, k3};
  std::sort(want.begin(), want.end());
  CHECK(rest == want);
  CHECK(owner.Stats()[KeyspaceStats::kRepairsQueued] == 0);  // nothing failed
  CHECK(Pending(owner).empty());
}

TEST_CASE("repair: a queue beyond repair_max_keys becomes one clear-hot") {
  GroupEnv env;
  env.repair_max_keys = 2;
  FakeCluster c(3, Options(), env);
  Tick(c);
  c.nodes[1]->Cut();
  Group& owner = *c.nodes[0]->group;
  for (int i = 0; i < 3; ++i) {
    CHECK(owner.SetSync(c.KeyOwnedBy(0, "k" + std::to_string(i) + "-"), "v", -1).status.ok());
  }
  CHECK(owner.Stats()[KeyspaceStats::kRepairOverflows] == 1);
  auto pending = Pending(owner);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].second == 1);  // one item: clear-hot
  c.nodes[1]->Cut(false);
  Tick(c);
  REQUIRE_FALSE(c.nodes[1]->repairs_received.empty());
  CHECK(c.nodes[1]->repairs_received.back().clear_hot);
  CHECK(c.nodes[1]->repairs_received.back().keys.empty());
  CHECK(Pending(owner).empty());
}

TEST_CASE("repair: a member that leaves the ring loses its queue") {
  FakeCluster c(3, Options());
  Tick(c);
  c.nodes[1]->Cut();
  Group& owner = *c.nodes[0]->group;
  CHECK(owner.SetSync(c.KeyOwnedBy(0), "v", -1).status.ok());
  REQUIRE(Pending(owner).size() == 1);
  c.ring = Ring::Build({c.nodes[0]->name, c.nodes[2]->name});
  Tick(c);
  CHECK(Pending(owner).empty());
  for (const auto& p : owner.PendingRepairs()) CHECK(p.first != c.nodes[1]->name);
  c.nodes[1]->Cut(false);
  Tick(c);
  CHECK(c.nodes[1]->repairs_received.empty());
}

TEST_CASE("repair: a member seen coming back is synced: its generation adopted, hot copies gone") {
  FakeCluster c(3, HotOptions());
  Tick(c);
  Group& node0 = *c.nodes[0]->group;
  std::string key = c.KeyOwnedBy(2);
  node0.GetSync(key);
  CHECK(node0.GetSync(key).source == ValueSource::kHot);
  // Node 2 is cut off from node 0 and, meanwhile, invalidated (node 0 never heard of it).
  c.nodes[2]->health = PeerHealth::kEjected;
  Tick(c);
  CHECK(c.nodes[2]->group->AdvanceGeneration(7).ok());
  int syncs = c.nodes[2]->syncs_received;
  c.nodes[2]->health = PeerHealth::kUp;
  Tick(c);
  CHECK(c.nodes[2]->syncs_received > syncs);
  CHECK(node0.generation() == 7);
  CHECK(node0.Stats().hot.items == 0);
  CHECK(node0.Stats()[KeyspaceStats::kPeerSyncs] >= 1);
  CHECK(node0.GetSync(key).source == ValueSource::kPeer);
}

TEST_CASE("repair: a member that joins is synced if this node holds entries, once reachable") {
  FakeCluster c(2, Options());
  Tick(c);  // fresh nodes: nothing can be stale, no Sync
  CHECK(c.nodes[0]->syncs_received == 0);
  CHECK(c.nodes[1]->syncs_received == 0);
  // Node 1 leaves and joins again while node 0 holds an entry.
  c.ring = Ring::Build({c.nodes[0]->name});
  Tick(c);
  REQUIRE(c.nodes[0]->group->SetSync(c.KeyOwnedBy(0), "v", -1).status.ok());
  c.ring = Ring::Build({c.nodes[0]->name, c.nodes[1]->name});
  c.nodes[1]->Cut();  // ejected: no Sync tried
  Tick(c);
  CHECK(c.nodes[1]->syncs_received == 0);
  c.nodes[1]->Cut(false);
  c.nodes[1]->health = PeerHealth::kSuspect;  // tried, and answers
  Tick(c);
  CHECK(c.nodes[1]->syncs_received == 1);
  Tick(c);
  CHECK(c.nodes[1]->syncs_received == 1);  // once per join or recovery
}

}  // namespace podcache
