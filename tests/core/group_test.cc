#include "core/group.h"
#include "core/reaper.h"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/hash.h"

namespace podcache {
namespace {

// A loader that answers "<key>@<node>" at once, or holds calls until the test releases them.
class FakeLoader : public Loader {
 public:
  explicit FakeLoader(std::string node) : node_(std::move(node)) {}
  void Load(std::string_view, std::string_view key, Millis, DoneFn done) override {
    std::lock_guard lock(mu_);
    ++calls;
    ++per_key[std::string(key)];
    if (hold) {
      pending.emplace_back(std::string(key), std::move(done));
      return;
    }
    done(Answer(key));
  }
  StatusOr<Loaded> Answer(std::string_view key) {
    if (missing.count(std::string(key))) return NotFoundError("no such row");
    if (failing) return UnavailableError("database down");
    return Loaded{std::string(key) + "@" + node_, ttl_ms};
  }
  void ReleaseAll() {
    std::vector<std::pair<std::string, DoneFn>> p;
    {
      std::lock_guard lock(mu_);
      p.swap(pending);
    }
    for (auto& [key, done] : p) done(Answer(key));
  }

  std::mutex mu_;
  std::string node_;
  int calls = 0;
  std::map<std::string, int> per_key;
  std::set<std::string> missing;
  bool failing = false;
  bool hold = false;
  Millis ttl_ms = -1;
  std::vector<std::pair<std::string, DoneFn>> pending;
};

struct FakeNode;

class FakeCluster;

// Calls the target node's group directly, marked as from a peer, unless the target is down.
class FakePeerClient : public PeerClient {
 public:
  explicit FakePeerClient(FakeNode* target) : target_(target) {}
  void Get(std::string_view ks, std::string_view key, uint64_t, Millis, ValueFn done) override;
  void Set(std::string_view, std::string_view key, std::string_view value, Millis ttl, Millis,
           StatusFn done) override;
  void Delete(std::string_view, std::string_view key, Millis, StatusFn done) override;
  void DropHot(std::string_view, std::string_view key, Millis, StatusFn done) override;
  void AdvanceGeneration(std::string_view, uint64_t generation, Millis, StatusFn done) override;

 private:
  FakeNode* target_;
};

class FakeView : public PeerView {
 public:
  FakeView(FakeCluster* cluster, std::string self) : cluster_(cluster), self_(std::move(self)) {}
  RingPtr Ring() const override;
  const std::string& Self() const override { return self_; }
  std::shared_ptr<PeerClient> Client(const std::string& member) override;

 private:
  FakeCluster* cluster_;
  std::string self_;
};

struct FakeNode {
  std::string name;
  std::unique_ptr<FakeView> view;
  std::shared_ptr<FakeLoader> loader;
  std::shared_ptr<Group> group;
  bool down = false;
  int drop_hot_received = 0;
  int drop_hot_failures_left = 0;  // the next N DropHot calls fail
  bool hold_drops = false;         // DropHot calls wait in held_drops until the test answers
  std::vector<PeerClient::StatusFn> held_drops;
};

class FakeCluster {
 public:
  FakeCluster(int n, KeyspaceOptions options) : scheduler(&clock) {
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) names.push_back("10.0.0." + std::to_string(i + 1) + ":7071");
    ring = Ring::Build(names);
    for (const auto& name : names) {
      auto node = std::make_unique<FakeNode>();
      node->name = name;
      node->view = std::make_unique<FakeView>(this, name);
      node->loader = std::make_shared<FakeLoader>(name);
      GroupEnv env;
      env.peers = node->view.get();
      env.scheduler = &scheduler;
      env.clock = &clock;
      auto g = Group::Create(options, node->loader, env);
      REQUIRE(g.ok());
      node->group = g.value();
      nodes.push_back(std::move(node));
    }
  }
  FakeNode* Node(const std::string& name) {
    for (auto& n : nodes) {
      if (n->name == name) return n.get();
    }
    return nullptr;
  }
  FakeNode* Owner(const std::string& key) { return Node(ring->OwnerOfKey(key)); }
  // A key owned by node `i`.
  std::string KeyOwnedBy(int i, const std::string& prefix = "key") {
    for (int k = 0;; ++k) {
      std::string key = prefix + std::to_string(k);
      if (ring->OwnerOfKey(key) == nodes[i]->name) return key;
    }
  }
  int TotalLoads() {
    int total = 0;
    for (auto& n : nodes) total += n->loader->calls;
    return total;
  }

  FakeClock clock;
  ManualScheduler scheduler;
  RingPtr ring;
  std::vector<std::unique_ptr<FakeNode>> nodes;
};

RingPtr FakeView::Ring() const { return cluster_->ring; }
std::shared_ptr<PeerClient> FakeView::Client(const std::string& member) {
  FakeNode* n = cluster_->Node(member);
  return n ? std::make_shared<FakePeerClient>(n) : nullptr;
}

void FakePeerClient::Get(std::string_view, std::string_view key, uint64_t, Millis, ValueFn done) {
  if (target_->down) return done(UnavailableError("connection refused"));
  GetOptions o;
  o.from_peer = true;
  target_->group->Get(key, o, [done](const GetResult& r) {
    if (!r.status.ok()) return done(r.status);
    done(PeerValue{std::string(r.value.value()), r.remaining_ttl_ms});
  });
}
void FakePeerClient::Set(std::string_view, std::string_view key, std::string_view value, Millis ttl,
                         Millis, StatusFn done) {
  if (target_->down) return done(UnavailableError("connection refused"));
  target_->group->Set(key, value, ttl, WriteOptions{kNoDeadline, true}, done);
}
void FakePeerClient::Delete(std::string_view, std::string_view key, Millis, StatusFn done) {
  if (target_->down) return done(UnavailableError("connection refused"));
  target_->group->Delete(key, WriteOptions{kNoDeadline, true}, done);
}
void FakePeerClient::DropHot(std::string_view, std::string_view key, Millis, StatusFn done) {
  if (target_->down) return done(UnavailableError("connection refused"));
  if (target_->drop_hot_failures_left > 0) {
    --target_->drop_hot_failures_left;
    return done(UnavailableError("flaky"));
  }
  if (target_->hold_drops) {
    target_->held_drops.push_back(std::move(done));
    return;
  }
  ++target_->drop_hot_received;
  target_->group->DropHot(key);
  done(OkStatus());
}
void FakePeerClient::AdvanceGeneration(std::string_view, uint64_t generation, Millis,
                                       StatusFn done) {
  if (target_->down) return done(UnavailableError("connection refused"));
  done(target_->group->AdvanceGeneration(generation));
}

KeyspaceOptions Options() {
  KeyspaceOptions o;
  o.name = "users";
  o.max_bytes = 4 << 20;
  return o;
}

// One node without peers, on a fake clock, with a FakeLoader.
struct SoloNode {
  std::shared_ptr<Group> Start(const KeyspaceOptions& options = Options()) {
    return StartWith(options, loader);
  }
  // `custom` may be null: a cache-aside keyspace.
  std::shared_ptr<Group> StartWith(const KeyspaceOptions& options, std::shared_ptr<Loader> custom) {
    GroupEnv env{nullptr, &scheduler, &clock};
    return Group::Create(options, std::move(custom), env).value();
  }
  FakeClock clock;
  ManualScheduler scheduler{&clock};
  std::shared_ptr<FakeLoader> loader = std::make_shared<FakeLoader>("solo");
};

}  // namespace

TEST_CASE_FIXTURE(SoloNode, "group: single node loads a miss once and then serves it from main") {
  auto g = Start();
  GetResult r = g->GetSync("alice");
  REQUIRE(r.status.ok());
  CHECK(r.value.value() == "alice@solo");
  CHECK(r.source == ValueSource::kLoader);
  r = g->GetSync("alice");
  CHECK(r.source == ValueSource::kMain);
  CHECK(loader->calls == 1);
  KeyspaceStats s = g->Stats();
  CHECK(s[KeyspaceStats::kGets] == 2);
  CHECK(s[KeyspaceStats::kMisses] == 1);
  CHECK(s[KeyspaceStats::kLoads] == 1);
  CHECK(s.main.hits == 1);
  CHECK(s.main.items == 1);
}

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
  FakeCluster c(3, o);
  std::string key = c.KeyOwnedBy(2);
  c.nodes[2]->down = true;
  GetResult r = c.nodes[0]->group->GetSync(key);
  REQUIRE(r.status.ok());
  CHECK(r.value.value() == key + "@" + c.nodes[0]->name);
  CHECK(r.remaining_ttl_ms == 5000);
  KeyspaceStats s = c.nodes[0]->group->Stats();
  CHECK(s[KeyspaceStats::kPeerErrors] == 1);
  CHECK(s[KeyspaceStats::kLocalFallbackLoads] == 1);
  // The fallback copy is served from the hot store until hot_ttl passes.
  CHECK(c.nodes[0]->group->GetSync(key).source == ValueSource::kHot);
  CHECK(c.nodes[0]->loader->calls == 1);
  c.clock.Advance(5000);
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

  REQUIRE(c.nodes[0]->group->SetSync(key, "new value", -1).ok());
  CHECK(c.nodes[2]->group->Stats().main.items == 1);
  CHECK(c.nodes[0]->drop_hot_received == 1);
  CHECK(c.nodes[1]->drop_hot_received == 1);
  for (auto& n : c.nodes) CHECK(n->group->GetSync(key).value.value() == "new value");
  CHECK(c.nodes[2]->group->GetSync(key).source == ValueSource::kMain);

  REQUIRE(c.nodes[1]->group->DeleteSync(key).ok());
  CHECK(c.nodes[2]->group->Stats().main.items == 0);
  // Gone everywhere: the next Get loads again on the owner.
  GetResult r = c.nodes[0]->group->GetSync(key);
  CHECK(r.value.value() == key + "@" + c.nodes[2]->name);
}

TEST_CASE("group: hot-copy drops are retried with back-off and failures are counted") {
  FakeCluster c(3, Options());
  std::string key = c.KeyOwnedBy(0);
  c.nodes[1]->drop_hot_failures_left = 2;  // succeeds on the third attempt
  c.nodes[2]->down = true;                 // never succeeds
  REQUIRE(c.nodes[0]->group->SetSync(key, "v", -1).ok());
  CHECK(c.nodes[1]->drop_hot_received == 0);
  c.scheduler.AdvanceAndRun(100);  // 2nd attempt after 100 ms
  CHECK(c.nodes[1]->drop_hot_received == 0);
  c.scheduler.AdvanceAndRun(200);  // 3rd attempt after another 200 ms
  CHECK(c.nodes[1]->drop_hot_received == 1);
  KeyspaceStats s = c.nodes[0]->group->Stats();
  CHECK(s[KeyspaceStats::kBroadcastsSent] == 2);
  CHECK(s[KeyspaceStats::kBroadcastFailures] == 1);  // node 2, after 3 attempts
  CHECK(c.scheduler.pending() == 0);
}

TEST_CASE("group: a write completes only once every member answered the hot-copy drop") {
  FakeCluster c(3, Options());
  std::string key = c.KeyOwnedBy(0);
  c.nodes[1]->hold_drops = true;
  bool done = false;
  Status result;
  c.nodes[2]->group->Set(key, "v2", -1, WriteOptions{}, [&](Status s) {
    done = true;
    result = s;
  });
  REQUIRE(c.nodes[1]->held_drops.size() == 1);
  CHECK_FALSE(done);  // node 1 may still serve its old hot copy
  c.nodes[1]->held_drops[0](OkStatus());
  CHECK(done);
  CHECK(result.ok());
  // A member that fails the drop does not hold the write back: it gets retries later.
  c.nodes[1]->hold_drops = false;
  c.nodes[1]->drop_hot_failures_left = 1;
  done = false;
  c.nodes[0]->group->Delete(key, WriteOptions{}, [&](Status s) {
    done = true;
    result = s;
  });
  CHECK(done);
  CHECK(result.ok());
  c.scheduler.AdvanceAndRun(1000);
  CHECK(c.nodes[1]->drop_hot_received == 1);  // the retry arrived
}

TEST_CASE("group: Set on a non-owner with the owner down fails with UNAVAILABLE") {
  FakeCluster c(2, Options());
  std::string key = c.KeyOwnedBy(1);
  c.nodes[1]->down = true;
  Status s = c.nodes[0]->group->SetSync(key, "v", -1);
  CHECK(s.code() == StatusCode::kUnavailable);
}

TEST_CASE("group: InvalidateKeyspace stops old entries on every node") {
  FakeCluster c(3, Options());
  std::vector<std::string> keys;
  for (int i = 0; i < 3; ++i) keys.push_back(c.KeyOwnedBy(i));
  for (auto& k : keys) c.nodes[0]->group->GetSync(k);
  int loads = c.TotalLoads();
  c.nodes[1]->group->Invalidate([](Status s) { CHECK(s.ok()); });
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
  g.Invalidate([](Status s) { CHECK(s.ok()); });
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
  g.Invalidate([](Status s) { CHECK(s.ok()); });
  CHECK(g.generation() == Group::kMaxPeerGeneration + 1);
  CHECK(g.GetSync(key).source == ValueSource::kLoader);
}

TEST_CASE_FIXTURE(SoloNode, "group: TTLs near INT64_MAX saturate instead of overflowing") {
  auto g = Start();
  for (Millis ttl : {INT64_MAX, INT64_MAX - 1, INT64_MAX / 2 + 7}) {
    CHECK(g->SetSync("big", "v", ttl).ok());
    GetResult r = g->GetSync("big");
    REQUIRE(r.status.ok());
    CHECK(r.value.value() == "v");
    CHECK(r.remaining_ttl_ms > 100LL * 365 * 24 * 3600 * 1000);  // "never", not "gone"
  }
}

TEST_CASE_FIXTURE(SoloNode,
                  "group: a load that began before an invalidation is not cached after it") {
  loader->hold = true;
  auto g = Start();
  std::vector<GetResult> got;
  g->Get("k", {}, [&](const GetResult& r) { got.push_back(r); });
  g->Invalidate([](Status) {});
  loader->ReleaseAll();
  REQUIRE(got.size() == 1);
  CHECK(got[0].status.ok());
  CHECK(g->Stats().main.items == 0);
  loader->hold = false;
  CHECK(g->GetSync("k").source == ValueSource::kLoader);  // not cached: loads again
}

TEST_CASE_FIXTURE(SoloNode,
                  "group: a load that finishes after a Set does not overwrite the newer value") {
  loader->hold = true;
  auto g = Start();
  std::vector<GetResult> got;
  g->Get("k", {}, [&](const GetResult& r) { got.push_back(r); });
  REQUIRE(g->SetSync("k", "written by the app", -1).ok());
  loader->ReleaseAll();  // the database's older answer arrives
  REQUIRE(got.size() == 1);
  CHECK(got[0].value.value() == "k@solo");  // its own waiter still gets what it asked for
  CHECK(g->GetSync("k").value.value() == "written by the app");
}

TEST_CASE_FIXTURE(SoloNode, "group: NOT_FOUND is cached for the negative TTL only") {
  loader->missing.insert("ghost");
  KeyspaceOptions o = Options();
  o.negative_ttl_ms = 500;
  auto g = Start(o);
  CHECK(g->GetSync("ghost").status.code() == StatusCode::kNotFound);
  GetResult r = g->GetSync("ghost");
  CHECK(r.status.code() == StatusCode::kNotFound);
  CHECK(r.source == ValueSource::kMain);
  CHECK(loader->calls == 1);
  clock.Advance(500);
  CHECK(g->GetSync("ghost").status.code() == StatusCode::kNotFound);
  CHECK(loader->calls == 2);
}

TEST_CASE_FIXTURE(SoloNode, "group: TTLs from the loader - the default and the cap") {
  KeyspaceOptions o = Options();
  o.default_ttl_ms = 1000;
  o.max_ttl_ms = 5000;
  auto g = Start(o);
  CHECK(g->GetSync("a").remaining_ttl_ms == 1000);  // default
  loader->ttl_ms = 60000;
  CHECK(g->GetSync("b").remaining_ttl_ms == 5000);  // capped
  loader->ttl_ms = 200;
  CHECK(g->GetSync("c").remaining_ttl_ms == 200);
  clock.Advance(200);
  CHECK(g->GetSync("c").source == ValueSource::kLoader);  // expired, loaded again
  CHECK(g->GetSync("a").source == ValueSource::kMain);
  clock.Advance(800);
  CHECK(g->GetSync("a").source == ValueSource::kLoader);
}

TEST_CASE_FIXTURE(SoloNode, "group: the reaper reclaims expired entries without reads") {
  loader->ttl_ms = 1000;
  auto g = Start();
  for (int i = 0; i < 100; ++i) g->GetSync("k" + std::to_string(i));
  Reaper reaper(&scheduler, 500);
  reaper.Add(g);
  reaper.Start();
  CHECK(g->Stats().main.items == 100);
  scheduler.AdvanceAndRun(500);
  CHECK(g->Stats().main.items == 100);
  scheduler.AdvanceAndRun(500);  // entries expired at +1000; the tick at +1000 drops them
  CHECK(g->Stats().main.items == 0);
  CHECK(g->Stats().main.expirations == 100);
  CHECK(scheduler.pending() == 1);  // still ticking
  g.reset();
  scheduler.AdvanceAndRun(500);  // the tick forgets the group that is gone
  CHECK(reaper.Tick() == 0);
}

TEST_CASE_FIXTURE(SoloNode, "group: one reaper bounds its work per tick across many keyspaces") {
  loader->ttl_ms = 1000;
  std::vector<std::shared_ptr<Group>> groups;
  KeyspaceOptions o = Options();
  o.max_bytes = 1 << 20;
  o.max_value_bytes = 1 << 16;
  for (int i = 0; i < 40; ++i) {
    o.name = "ks" + std::to_string(i);
    groups.push_back(Start(o));
    groups.back()->GetSync("k");
  }
  size_t shards = groups[0]->num_shards();
  // A tick walks about 10 keyspaces' shards, then the next tick goes on from there.
  Reaper reaper(&scheduler, 500, 4096, 10 * shards);
  for (auto& g : groups) reaper.Add(g);
  clock.Advance(1000);
  CHECK(reaper.Tick() == 10);
  CHECK(reaper.Tick() == 10);
  CHECK(reaper.Tick() == 10);
  CHECK(reaper.Tick() == 10);
  CHECK(reaper.Tick() == 0);  // every keyspace was visited once
  for (auto& g : groups) CHECK(g->Stats().main.items == 0);
}

TEST_CASE_FIXTURE(SoloNode,
                  "group: a caller's deadline passes while the load goes on and is cached") {
  loader->hold = true;
  auto g = Start();
  std::vector<GetResult> got;
  GetOptions o;
  o.deadline = clock.NowMs() + 100;
  g->Get("slow", o, [&](const GetResult& r) { got.push_back(r); });
  g->Get("slow", {}, [&](const GetResult& r) { got.push_back(r); });
  CHECK(g->Stats()[KeyspaceStats::kLoadsDeduped] == 1);
  scheduler.AdvanceAndRun(100);
  REQUIRE(got.size() == 1);
  CHECK(got[0].status.code() == StatusCode::kDeadlineExceeded);
  loader->ReleaseAll();
  REQUIRE(got.size() == 2);
  CHECK(got[1].status.ok());
  loader->hold = false;
  CHECK(g->GetSync("slow").source == ValueSource::kMain);
  CHECK(loader->calls == 1);
}

TEST_CASE_FIXTURE(SoloNode, "group: the load's own timeout ends a load that never answers") {
  loader->hold = true;
  KeyspaceOptions o = Options();
  o.load_timeout_ms = 2000;
  auto g = Start(o);
  std::vector<GetResult> got;
  g->Get("stuck", {}, [&](const GetResult& r) { got.push_back(r); });
  scheduler.AdvanceAndRun(2000);
  REQUIRE(got.size() == 1);
  CHECK(got[0].status.code() == StatusCode::kDeadlineExceeded);
  // The answer that finally arrives is ignored by the finished flight but still cached.
  loader->ReleaseAll();
  CHECK(got.size() == 1);
  CHECK(g->Stats().loads_active == 0);
  loader->hold = false;
  CHECK(g->GetSync("stuck").source == ValueSource::kMain);
}

TEST_CASE_FIXTURE(SoloNode, "group: load concurrency limit and queue bound") {
  loader->hold = true;
  KeyspaceOptions o = Options();
  o.load_concurrency = 2;
  o.load_queue = 1;
  auto g = Start(o);
  std::vector<GetResult> got;
  for (int i = 0; i < 4; ++i) {
    g->Get("k" + std::to_string(i), {}, [&](const GetResult& r) { got.push_back(r); });
  }
  CHECK(loader->calls == 2);  // two running, one queued, the fourth refused
  REQUIRE(got.size() == 1);
  CHECK(got[0].status.code() == StatusCode::kResourceExhausted);
  CHECK(got[0].status.message().find("load_queue=1") != std::string::npos);
  CHECK(g->Stats().loads_queued == 1);
  loader->ReleaseAll();  // two finish; the queued one starts
  CHECK(loader->calls == 3);
  loader->ReleaseAll();
  CHECK(got.size() == 4);
  CHECK(g->Stats().loads_active == 0);
}

TEST_CASE_FIXTURE(SoloNode,
                  "group: bad keys - values and TTLs are INVALID_ARGUMENT naming the limit") {
  KeyspaceOptions o = Options();
  o.max_key_bytes = 8;
  o.max_value_bytes = 16;
  auto g = StartWith(o, nullptr);
  CHECK(g->GetSync("").status.code() == StatusCode::kInvalidArgument);
  GetResult r = g->GetSync("123456789");
  CHECK(r.status.code() == StatusCode::kInvalidArgument);
  CHECK(r.status.message().find("max_key_bytes=8") != std::string::npos);
  Status s = g->SetSync("k", std::string(17, 'v'), -1);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("max_value_bytes=16") != std::string::npos);
  CHECK(g->SetSync("k", "v", -5).code() == StatusCode::kInvalidArgument);
  // Cache-aside: NOT_FOUND until the app fills it.
  CHECK(g->GetSync("k").status.code() == StatusCode::kNotFound);
  CHECK(g->SetSync("k", "v", 0).ok());
  CHECK(g->GetSync("k").value.value() == "v");
}

TEST_CASE_FIXTURE(SoloNode,
                  "group: a throwing loader fails every waiter and the next Get loads again") {
  class ThrowingLoader : public Loader {
   public:
    void Load(std::string_view, std::string_view, Millis, DoneFn) override {
      ++calls;
      throw std::runtime_error("boom");
    }
    int calls = 0;
  };
  auto throwing = std::make_shared<ThrowingLoader>();
  auto g = StartWith(Options(), throwing);
  GetResult r = g->GetSync("k");
  CHECK(r.status.code() == StatusCode::kInternal);
  CHECK(g->GetSync("k").status.code() == StatusCode::kInternal);
  CHECK(throwing->calls == 2);
  CHECK(g->Stats().loads_active == 0);  // the slot was given back
}

TEST_CASE("group: keyspace options are validated with exact messages") {
  KeyspaceOptions o = Options();
  CHECK(o.Validate().ok());
  o.name = "bad name!";
  CHECK(o.Validate().message().find("name must be") != std::string::npos);
  o = Options();
  o.hot_share = 0.9;
  CHECK(o.Validate().message().find("hot_share") != std::string::npos);
  o = Options();
  o.max_value_bytes = o.max_bytes;
  CHECK(o.Validate().message().find("max_value_bytes") != std::string::npos);
  FakeClock clock;
  ManualScheduler scheduler(&clock);
  GroupEnv env{nullptr, &scheduler, &clock};
  CHECK(Group::Create(o, nullptr, env).status().code() == StatusCode::kInvalidArgument);
}

TEST_SUITE("concurrency") {
  TEST_CASE("group: concurrent Gets from many threads on a real scheduler load each key once") {
    ThreadScheduler scheduler;
    scheduler.Start();
    auto loader = std::make_shared<FakeLoader>("solo");
    GroupEnv env{nullptr, &scheduler, SystemClock::Get()};
    auto g = Group::Create(Options(), loader, env).value();
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 2000; ++i) {
          std::string key = "k" + std::to_string(i % 100);
          GetOptions o;
          o.deadline = SystemClock::Get()->NowMs() + 10'000;
          GetResult r = g->GetSync(key, o);
          if (!r.status.ok() || r.value.value() != key + "@solo") bad++;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(bad == 0);
    CHECK(loader->calls == 100);
    scheduler.Stop();
  }
}

}  // namespace podcache
