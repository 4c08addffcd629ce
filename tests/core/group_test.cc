// Group on one node: loads, TTLs, deadlines, limits, the reaper.
#include "core/group.h"

#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/reaper.h"
#include "tests/core/group_fakes.h"

namespace podcache {

using group_test::Options;
using group_test::SoloNode;

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

TEST_CASE_FIXTURE(SoloNode, "group: TTLs near INT64_MAX saturate instead of overflowing") {
  auto g = Start();
  for (Millis ttl : {INT64_MAX, INT64_MAX - 1, INT64_MAX / 2 + 7}) {
    CHECK(g->SetSync("big", "v", ttl).status.ok());
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
  g->Invalidate([](const WriteResult&) {});
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
  REQUIRE(g->SetSync("k", "written by the app", -1).status.ok());
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
  Status s = g->SetSync("k", std::string(17, 'v'), -1).status;
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("max_value_bytes=16") != std::string::npos);
  CHECK(g->SetSync("k", "v", -5).status.code() == StatusCode::kInvalidArgument);
  // Cache-aside: NOT_FOUND until the app fills it.
  CHECK(g->GetSync("k").status.code() == StatusCode::kNotFound);
  CHECK(g->SetSync("k", "v", 0).status.ok());
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
  TEST_CASE_FIXTURE(
      group_test::ThreadedNode,
      "group: concurrent Gets from many threads on a real scheduler load each key once") {
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 2000; ++i) {
          std::string key = "k" + std::to_string(i % 100);
          GetOptions o;
          o.deadline = SystemClock::Get()->NowMs() + 10'000;
          GetResult r = group->GetSync(key, o);
          if (!r.status.ok() || r.value.value() != key + "@solo") bad++;
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(bad == 0);
    CHECK(loader->calls == 100);
  }
}

}  // namespace podcache
