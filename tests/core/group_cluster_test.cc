// Group in a cluster: reads through the owner, fallback, hot copies, writes and invalidation.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/group.h"
#include "tests/core/group_fakes.h"

namespace podcache {

using group_test::FakeCluster;
using group_test::FakeNode;
using group_test::Options;

TEST_CASE("group: a Get through any node returns the owner's value - loaded only by the owner") {
  FakeCluster c(3, Options());
  for (int i = 0; i < 30; ++i) {
    std::string key = "user:" + std::to_string(i);
    FakeNode* owner = c.Owner(key);
    for (auto& n : c.nodes) {
      GetResult r = n->group->GetSync(key);
      REQUIRE(r.status.ok());
      CHECK(r.value.value() == key + "@" + owner->name);
      if (n.get() != owner) CHECK(r.source == ValueSource::kPeer);
    }
    CHECK(owner->loader->per_key[key] == 1);
  }
  CHECK(c.TotalLoads() == 30);
  uint64_t peer_gets = 0;
  for (auto& n : c.nodes) peer_gets += n->group->Stats()[KeyspaceStats::kPeerGets];
  CHECK(peer_gets == 60);  // each key fetched once by each of the two non-owners
}

TEST_CASE("group: a request from a peer is never forwarded - even when the rings disagree") {
  FakeCluster c(3, Options());
  std::string key = c.KeyOwnedBy(1);
  GetOptions from_peer;
  from_peer.from_peer = true;
  GetResult r = c.nodes[0]->group->GetSync(key, from_peer);  // node 0 is not the owner
  REQUIRE(r.status.ok());
  CHECK(r.value.value() == key + "@" + c.nodes[0]->name);
  CHECK(c.nodes[0]->loader->calls == 1);
  CHECK(c.nodes[1]->loader->calls == 0);
  KeyspaceStats s = c.nodes[0]->group->Stats();
  CHECK(s[KeyspaceStats::kRingDisagreements] == 1);
  CHECK(s[KeyspaceStats::kPeerGets] == 0);
}

TEST_CASE("group: owner unreachable -> local load within the limit - counted - kept briefly") {
  KeyspaceOptions o = Options();
  o.hot_ttl_ms = 5000;
  o.fallback_ttl_ms = 1000;  // the cap of a fallback copy, not hot_ttl
  FakeCluster c(3, o);
  std::string key = c.KeyOwnedBy(2);
  c.nodes[2]->down = true;
  GetResult r = c.nodes[0]->group->GetSync(key);
  REQUIRE(r.status.ok());
  CHECK(r.value.value() == key + "@" + c.nodes[0]->name);
  CHECK(r.remaining_ttl_ms == 1000);
  KeyspaceStats s = c.nodes[0]->group->Stats();
  CHECK(s[KeyspaceStats::kPeerErrors] == 1);
  CHECK(s[KeyspaceStats::kLocalFallbackLoads] == 1);
  // The fallback copy is served from the hot store until fallback_ttl passes.
  c.clock.Advance(999);
  CHECK(c.nodes[0]->group->GetSync(key).source == ValueSource::kHot);
  CHECK(c.nodes[0]->loader->calls == 1);
  c.clock.Advance(1);
  c.nodes[2]->down = false;
  r = c.nodes[0]->group->GetSync(key);
  CHECK(r.source == ValueSource::kPeer);
  CHECK(r.value.value() == key + "@" + c.nodes[2]->name);
}

TEST_CASE("group: an owner's NOT_FOUND is final - not a reason to load locally") {
  FakeCluster c(2, Options());
  std::string key = c.KeyOwnedBy(1);
  c.nodes[1]->loader->missing.insert(key);
  GetResult r = c.nodes[0]->group->GetSync(key);
  CHECK(r.status.code() == StatusCode::kNotFound);
  CHECK(c.nodes[0]->loader->calls == 0);
}

TEST_CASE("group: hot promotion by access rate") {
  KeyspaceOptions o = Options();
  o.hot_promote_hits = 3;
  o.hot_window_ms = 1000;
  FakeCluster c(2, o);
  std::string key = c.KeyOwnedBy(1);
  Group& g = *c.nodes[0]->group;
  CHECK(g.GetSync(key).source == ValueSource::kPeer);
  CHECK(g.GetSync(key).source == ValueSource::kPeer);
  CHECK(g.GetSync(key).source == ValueSource::kPeer);  // third request: now hot, copy kept
  CHECK(g.Stats()[KeyspaceStats::kHotPromotions] == 1);
  CHECK(g.GetSync(key).source == ValueSource::kHot);
  CHECK(c.nodes[1]->loader->calls == 1);

  // A key asked for once per window stays cold.
  std::string cold = c.KeyOwnedBy(1, "cold");
  for (int i = 0; i < 10; ++i) {
    CHECK(g.GetSync(cold).source == ValueSource::kPeer);
    c.clock.Advance(1000);
  }
  CHECK(g.Stats()[KeyspaceStats::kHotPromotions] == 1);
}

TEST_CASE("group: Set and Delete go to the owner - which drops the others' hot copies") {
  KeyspaceOptions o = Options();
  o.hot_promote_hits = 1;
  FakeCluster c(3, o);
  std::string key = c.KeyOwnedBy(2);
  // Nodes 0 and 1 hold hot copies.
  CHECK(c.nodes[0]->group->GetSync(key).source == ValueSource::kPeer);
  CHECK(c.nodes[1]->group->GetSync(key).source == ValueSource::kPeer);
  CHECK(c.nodes[0]->group->GetSync(key).source == ValueSource::kHot);
  CHECK(c.nodes[1]->group->GetSync(key).source == ValueSource::kHot);

  REQUIRE(c.nodes[0]->group->SetSync(key, "new value", -1).status.ok());
  CHECK(c.nodes[2]->group->Stats().main.items == 1);
  CHECK(c.nodes[0]->drop_hot_received == 1);
  CHECK(c.nodes[1]->drop_hot_received == 1);
  for (auto& n : c.nodes) CHECK(n->group->GetSync(key).value.value() == "new value");
  CHECK(c.nodes[2]->group->GetSync(key).source == ValueSource::kMain);

  REQUIRE(c.nodes[1]->group->DeleteSync(key).status.ok());
  CHECK(c.nodes[2]->group->Stats().main.items == 0);
  // Gone everywhere: the next Get loads again on the owner.
  GetResult r = c.nodes[0]->group->GetSync(key);
  CHECK(r.value.value() == key + "@" + c.nodes[2]->name);
}

TEST_CASE("group: Set on a non-owner with the owner down fails with UNAVAILABLE") {
  FakeCluster c(2, Options());
  std::string key = c.KeyOwnedBy(1);
  c.nodes[1]->down = true;
  Status s = c.nodes[0]->group->SetSync(key, "v", -1).status;
  CHECK(s.code() == StatusCode::kUnavailable);
}

TEST_CASE("group: InvalidateKeyspace stops old entries on every node") {
  FakeCluster c(3, Options());
  std::vector<std::string> keys;
  for (int i = 0; i < 3; ++i) keys.push_back(c.KeyOwnedBy(i));
  for (auto& k : keys) c.nodes[0]->group->GetSync(k);
  int loads = c.TotalLoads();
  c.nodes[1]->group->Invalidate([](const WriteResult& r) {
    CHECK(r.status.ok());
    CHECK(r.members_acked == 2);
    CHECK(r.members_pending == 0);
  });
  for (auto& n : c.nodes) CHECK(n->group->generation() == 1);
  for (auto& k : keys) {
    GetResult r = c.nodes[0]->group->GetSync(k);
    CHECK((r.source == ValueSource::kLoader || r.source == ValueSource::kPeer));
  }
  CHECK(c.TotalLoads() == loads + 3);
  // A peer never moves a generation backwards.
  CHECK(c.nodes[0]->group->AdvanceGeneration(0).ok());
  CHECK(c.nodes[0]->group->generation() == 1);
}

TEST_CASE("group: a peer cannot disable invalidation with a huge generation") {
  FakeCluster c(2, Options());
  std::string key = c.KeyOwnedBy(0);
  Group& g = *c.nodes[0]->group;
  // What a 32-bit generation wrapped on: 2^32-1, then InvalidateKeyspace gave 0.
  CHECK(g.AdvanceGeneration(4294967295u).ok());
  CHECK(g.generation() == 4294967295u);
  CHECK(g.GetSync(key).source == ValueSource::kLoader);
  CHECK(g.GetSync(key).source == ValueSource::kMain);
  g.Invalidate([](const WriteResult& r) { CHECK(r.status.ok()); });
  CHECK(g.generation() == 4294967296u);
  CHECK(c.nodes[1]->group->generation() == 4294967296u);
  CHECK(g.GetSync(key).source == ValueSource::kLoader);  // the invalidation took effect
  // Absurd generations are refused and counted; the generation stays usable.
  Status refused = g.AdvanceGeneration(UINT64_MAX);
  CHECK(refused.code() == StatusCode::kInvalidArgument);
  CHECK(g.AdvanceGeneration(Group::kMaxPeerGeneration + 1).code() == StatusCode::kInvalidArgument);
  CHECK(g.Stats()[KeyspaceStats::kGenerationsRefused] == 2);
  CHECK(g.generation() == 4294967296u);
  CHECK(g.AdvanceGeneration(Group::kMaxPeerGeneration).ok());
  CHECK(g.GetSync(key).source == ValueSource::kLoader);
  CHECK(g.GetSync(key).source == ValueSource::kMain);
  g.Invalidate([](const WriteResult& r) { CHECK(r.status.ok()); });
  CHECK(g.generation() == Group::kMaxPeerGeneration + 1);
  CHECK(g.GetSync(key).source == ValueSource::kLoader);
}

}  // namespace podcache
