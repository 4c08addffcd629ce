// Group::GetMany: keys grouped by owner, one PeerClient::GetBatch per owner, local keys loaded
// here, fallback, duplicates, and when its callbacks run.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/group.h"
#include "core/ring.h"
#include "tests/core/group_fakes.h"

namespace podcache {
namespace {

using group_test::FakeCluster;
using group_test::HedgeDelay;
using group_test::KeysOwnedBy;
using group_test::ManyResult;
using group_test::Options;
using group_test::StartMany;

std::vector<std::string> Concat(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::set<std::string> AsSet(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("group: GetMany sends one GetBatch per owner and loads its own keys here") {
  FakeCluster c(3, Options());
  auto mine = KeysOwnedBy(c, 0, 4, "a");
  auto of1 = KeysOwnedBy(c, 1, 5, "b");
  auto of2 = KeysOwnedBy(c, 2, 6, "c");
  // Interleaved, so that grouping (not the order of the request) makes the batches.
  std::vector<std::string> keys;
  for (size_t i = 0; i < 6; ++i) {
    if (i < of2.size()) keys.push_back(of2[i]);
    if (i < mine.size()) keys.push_back(mine[i]);
    if (i < of1.size()) keys.push_back(of1[i]);
  }
  auto m = StartMany(*c.nodes[0]->group, keys);
  REQUIRE(m->all_done == 1);
  CHECK(m->items_when_done == 15);
  for (size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(keys[i]);
    CHECK(m->calls[i] == 1);
    auto* owner = c.Owner(keys[i]);
    REQUIRE(m->results[i].status.ok());
    CHECK(m->results[i].value.value() == keys[i] + "@" + owner->name);
    CHECK(m->results[i].source ==
          (owner == c.nodes[0].get() ? ValueSource::kLoader : ValueSource::kPeer));
  }
  REQUIRE(c.nodes[1]->batches_received.size() == 1);
  CHECK(AsSet(c.nodes[1]->batches_received[0]) == AsSet(of1));
  REQUIRE(c.nodes[2]->batches_received.size() == 1);
  CHECK(AsSet(c.nodes[2]->batches_received[0]) == AsSet(of2));
  CHECK(c.nodes[1]->gets_received + c.nodes[2]->gets_received == 0);
  CHECK(c.nodes[0]->loader->calls == 4);
  CHECK(c.nodes[1]->loader->calls == 5);
  CHECK(c.nodes[2]->loader->calls == 6);
  KeyspaceStats s = c.nodes[0]->group->Stats();
  CHECK(s[KeyspaceStats::kGets] == 15);
  CHECK(s[KeyspaceStats::kMisses] == 15);
  CHECK(s[KeyspaceStats::kPeerGets] == 11);
  CHECK(s[KeyspaceStats::kLoads] == 4);
  // Served from memory the second time: main for its own keys, nothing new for the owners.
  auto again = StartMany(*c.nodes[0]->group, mine);
  for (const GetResult& r : again->results) CHECK(r.source == ValueSource::kMain);
  CHECK(c.nodes[0]->loader->calls == 4);
}

TEST_CASE("group: GetMany falls back to a local load for every key of a failed batch") {
  KeyspaceOptions o = Options();
  o.hot_ttl_ms = 5000;
  FakeCluster c(3, o);
  auto of1 = KeysOwnedBy(c, 1, 2, "b");
  auto of2 = KeysOwnedBy(c, 2, 3, "c");
  c.nodes[2]->down = true;
  auto keys = Concat({of1, of2});
  auto m = StartMany(*c.nodes[0]->group, keys);
  REQUIRE(m->all_done == 1);
  for (size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(keys[i]);
    REQUIRE(m->results[i].status.ok());
    bool fallback = i >= of1.size();
    CHECK(m->results[i].value.value() ==
          keys[i] + "@" + (fallback ? c.nodes[0]->name : c.nodes[1]->name));
    CHECK(m->results[i].source == (fallback ? ValueSource::kLoader : ValueSource::kPeer));
    if (fallback) CHECK(m->results[i].remaining_ttl_ms == 1000);  // fallback_ttl, not hot_ttl
  }
  KeyspaceStats s = c.nodes[0]->group->Stats();
  CHECK(s[KeyspaceStats::kPeerErrors] == 3);
  CHECK(s[KeyspaceStats::kLocalFallbackLoads] == 3);
  CHECK(c.nodes[0]->loader->calls == 3);
  // The fallback copies are hot copies: served here until fallback_ttl passes.
  c.clock.Advance(999);
  auto again = StartMany(*c.nodes[0]->group, of2);
  for (const GetResult& r : again->results) CHECK(r.source == ValueSource::kHot);
  CHECK(c.nodes[0]->loader->calls == 3);
  c.clock.Advance(1);
  c.nodes[2]->down = false;
  auto after = StartMany(*c.nodes[0]->group, of2);
  for (const GetResult& r : after->results) CHECK(r.source == ValueSource::kPeer);
}

TEST_CASE("group: GetMany with duplicate keys fetches and loads each key once") {
  FakeCluster c(2, Options());
  auto remote = KeysOwnedBy(c, 1, 2, "r");
  std::string local = KeysOwnedBy(c, 0, 1, "l")[0];
  std::vector<std::string> keys = {remote[0], remote[1], remote[0], local, local, remote[1]};
  c.nodes[0]->loader->hold = true;  // so that the second `local` finds the load still running
  auto m = StartMany(*c.nodes[0]->group, keys);
  CHECK(m->all_done == 0);
  c.nodes[0]->loader->ReleaseAll();
  REQUIRE(m->all_done == 1);
  CHECK(m->items_when_done == 6);
  for (size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(i);
    CHECK(m->calls[i] == 1);
    REQUIRE(m->results[i].status.ok());
    CHECK(m->results[i].value.value() == keys[i] + "@" + c.Owner(keys[i])->name);
  }
  REQUIRE(c.nodes[1]->batches_received.size() == 1);
  CHECK(c.nodes[1]->batches_received[0].size() == 2);
  CHECK(c.nodes[1]->loader->calls == 2);
  CHECK(c.nodes[0]->loader->calls == 1);
  KeyspaceStats s = c.nodes[0]->group->Stats();
  CHECK(s[KeyspaceStats::kPeerGets] == 2);
  CHECK(s[KeyspaceStats::kLoadsDeduped] == 3);
}

TEST_CASE("group: GetMany answers hits and bad keys at once and completes after the last key") {
  FakeCluster c(2, Options());
  std::string cached = KeysOwnedBy(c, 0, 1, "l")[0];
  REQUIRE(c.nodes[0]->group->GetSync(cached).status.ok());
  auto remote = KeysOwnedBy(c, 1, 2, "r");
  c.nodes[1]->hold_batches = true;
  std::vector<std::string> keys = {cached, "", remote[0], remote[1]};
  auto m = StartMany(*c.nodes[0]->group, keys);
  CHECK(m->calls == std::vector<int>{1, 1, 0, 0});
  CHECK(m->results[0].source == ValueSource::kMain);
  CHECK(m->results[1].status.code() == StatusCode::kInvalidArgument);
  CHECK(m->all_done == 0);
  REQUIRE(c.nodes[1]->held_batches.size() == 1);
  c.nodes[1]->held_batches[0]();
  CHECK(m->calls == std::vector<int>{1, 1, 1, 1});
  CHECK(m->all_done == 1);
  CHECK(m->items_when_done == 4);
  CHECK(m->results[3].value.value() == remote[1] + "@" + c.nodes[1]->name);
  // No keys: all_done at once, no item.
  auto none = StartMany(*c.nodes[0]->group, {});
  CHECK(none->all_done == 1);
  CHECK(none->items_when_done == 0);
}

TEST_CASE("group: a Get while a GetMany's batch is out joins that fetch") {
  FakeCluster c(2, Options());
  auto remote = KeysOwnedBy(c, 1, 2, "r");
  c.nodes[1]->hold_batches = true;
  auto m = StartMany(*c.nodes[0]->group, remote);
  std::vector<GetResult> single;
  c.nodes[0]->group->Get(remote[0], {}, [&](const GetResult& r) { single.push_back(r); });
  CHECK(single.empty());
  REQUIRE(c.nodes[1]->held_batches.size() == 1);
  c.nodes[1]->held_batches[0]();
  REQUIRE(single.size() == 1);
  CHECK(single[0].value.value() == remote[0] + "@" + c.nodes[1]->name);
  CHECK(m->all_done == 1);
  CHECK(c.nodes[1]->gets_received == 0);
  CHECK(c.nodes[1]->loader->per_key[remote[0]] == 1);
  CHECK(c.nodes[0]->group->Stats()[KeyspaceStats::kLoadsDeduped] == 1);
}

TEST_CASE("group: GetMany sends a lone remote key as a Get - an owner's NOT_FOUND is final") {
  FakeCluster c(2, Options());
  auto remote = KeysOwnedBy(c, 1, 3, "r");
  c.nodes[1]->loader->missing.insert(remote[1]);
  auto one = StartMany(*c.nodes[0]->group, {remote[0]});
  CHECK(one->results[0].source == ValueSource::kPeer);
  CHECK(c.nodes[1]->gets_received == 1);
  CHECK(c.nodes[1]->batches_received.empty());
  auto m = StartMany(*c.nodes[0]->group, {remote[1], remote[2]});
  REQUIRE(c.nodes[1]->batches_received.size() == 1);
  CHECK(m->results[0].status.code() == StatusCode::kNotFound);
  CHECK(m->results[0].source == ValueSource::kPeer);
  CHECK(m->results[1].status.ok());
  CHECK(c.nodes[0]->loader->calls == 0);
  CHECK(c.nodes[0]->group->Stats()[KeyspaceStats::kPeerErrors] == 0);
}

TEST_CASE("group: GetMany for a peer loads every key here and counts the ring disagreements") {
  FakeCluster c(3, Options());
  auto mine = KeysOwnedBy(c, 0, 2, "a");
  auto of1 = KeysOwnedBy(c, 1, 3, "b");
  GetOptions from_peer;
  from_peer.from_peer = true;
  auto keys = Concat({mine, of1});
  auto m = StartMany(*c.nodes[0]->group, keys, from_peer);
  REQUIRE(m->all_done == 1);
  for (size_t i = 0; i < keys.size(); ++i) {
    CHECK(m->results[i].value.value() == keys[i] + "@" + c.nodes[0]->name);
    CHECK(m->results[i].source == ValueSource::kLoader);
  }
  CHECK(c.nodes[1]->batches_received.empty());
  CHECK(c.nodes[1]->gets_received == 0);
  KeyspaceStats s = c.nodes[0]->group->Stats();
  CHECK(s[KeyspaceStats::kGetsFromPeers] == 5);
  CHECK(s[KeyspaceStats::kRingDisagreements] == 3);
  CHECK(s[KeyspaceStats::kPeerGets] == 0);
}

TEST_CASE("group: GetMany loads here the keys of an owner it has no client for") {
  FakeCluster c(2, Options());
  // A member in the ring that no node (so no client) stands for.
  c.ring = Ring::Build({c.nodes[0]->name, c.nodes[1]->name, "10.0.0.9:7071"});
  std::vector<std::string> keys;
  for (int k = 0; keys.size() < 3; ++k) {
    std::string key = "g" + std::to_string(k);
    if (c.ring->OwnerOfKey(key) == "10.0.0.9:7071") keys.push_back(key);
  }
  auto m = StartMany(*c.nodes[0]->group, keys);
  REQUIRE(m->all_done == 1);
  for (size_t i = 0; i < keys.size(); ++i) {
    CHECK(m->results[i].value.value() == keys[i] + "@" + c.nodes[0]->name);
  }
  KeyspaceStats s = c.nodes[0]->group->Stats();
  CHECK(s[KeyspaceStats::kLocalFallbackLoads] == 3);
  CHECK(s[KeyspaceStats::kPeerGets] == 0);
  CHECK(s[KeyspaceStats::kPeerErrors] == 0);
}

TEST_CASE("group: GetMany answers each key once even when its deadline passes first") {
  FakeCluster c(2, Options(), HedgeDelay(0));
  auto remote = KeysOwnedBy(c, 1, 2, "r");
  std::string local = KeysOwnedBy(c, 0, 1, "l")[0];
  c.nodes[1]->hold_batches = true;
  c.nodes[0]->loader->hold = true;
  GetOptions o;
  // Leaves the peer call 400 - 250 (the load estimate before any load was timed) = 150 ms.
  o.deadline = c.clock.NowMs() + 400;
  auto m = StartMany(*c.nodes[0]->group, {remote[0], local, remote[1]}, o);
  CHECK(m->all_done == 0);
  c.scheduler.AdvanceAndRun(400);
  REQUIRE(m->all_done == 1);
  CHECK(m->calls == std::vector<int>{1, 1, 1});
  for (const GetResult& r : m->results) CHECK(r.status.code() == StatusCode::kDeadlineExceeded);
  // The fetch and the load go on: their late answers reach no caller; the loaded value is kept.
  REQUIRE(c.nodes[1]->held_batches.size() == 1);
  c.nodes[1]->held_batches[0]();
  c.nodes[0]->loader->ReleaseAll();
  CHECK(m->calls == std::vector<int>{1, 1, 1});
  CHECK(m->all_done == 1);
  c.nodes[0]->loader->hold = false;
  CHECK(c.nodes[0]->group->GetSync(local).source == ValueSource::kMain);
}

TEST_SUITE("concurrency") {
  TEST_CASE_FIXTURE(
      group_test::ThreadedNode,
      "group: concurrent GetManys on a real scheduler answer each key once, load it once") {
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int round = 0; round < 200; ++round) {
          std::vector<std::string> keys;
          for (int j = 0; j < 10; ++j)
            keys.push_back("k" + std::to_string((round * 7 + j * t) % 100));
          std::vector<std::string_view> views(keys.begin(), keys.end());
          auto calls = std::make_shared<std::vector<std::atomic<int>>>(keys.size());
          auto wrong = std::make_shared<std::atomic<int>>(0);
          auto all = std::make_shared<std::promise<void>>();
          GetOptions o;
          o.deadline = SystemClock::Get()->NowMs() + 10'000;
          group->GetMany(
              views, o,
              [calls, wrong, keys](size_t i, const GetResult& r) {
                (*calls)[i]++;
                if (!r.status.ok() || r.value.value() != keys[i] + "@solo") (*wrong)++;
              },
              [all] { all->set_value(); });
          if (all->get_future().wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
            bad++;
            continue;
          }
          for (auto& c : *calls) bad += c.load() != 1;
          bad += wrong->load();
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(bad == 0);
    CHECK(loader->calls == 100);
  }
}

}  // namespace podcache
