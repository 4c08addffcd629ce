// Group's stale-while-revalidate, stale-if-error (RFC 5861) and loader circuit breaker.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/group.h"
#include "tests/core/group_fakes.h"

namespace podcache {

using group_test::FakeCluster;
using group_test::Options;
using group_test::SoloNode;

namespace {

// Values live 1 s; stale windows as given.
KeyspaceOptions StaleOptions(Millis swr, Millis sie) {
  KeyspaceOptions o = Options();
  o.default_ttl_ms = 1000;
  o.stale_while_revalidate_ms = swr;
  o.stale_if_error_ms = sie;
  return o;
}

// Answers every key with "<key>:<version>", its ttl and stale windows as set.
class WindowLoader : public Loader {
 public:
  void Load(std::string_view, std::string_view key, Millis, DoneFn done) override {
    ++calls;
    Loaded l{std::string(key) + ":" + std::to_string(calls), 1000};
    l.stale_while_revalidate_ms = swr;
    l.stale_if_error_ms = sie;
    done(std::move(l));
  }
  int calls = 0;
  Millis swr = -1;
  Millis sie = -1;
};

}  // namespace

TEST_CASE_FIXTURE(SoloNode,
                  "stale: while revalidating, every reader gets the old value at once and one "
                  "refresh replaces it") {
  auto g = Start(StaleOptions(5000, 0));
  REQUIRE(g->GetSync("k").value.value() == "k@solo");
  clock.Advance(1000);  // expired
  loader->hold = true;
  loader->node_ = "v2";
  for (int i = 0; i < 100; ++i) {
    GetResult r = g->GetSync("k");  // answered at once although the loader holds every call
    REQUIRE(r.status.ok());
    CHECK(r.value.value() == "k@solo");
    CHECK(r.source == ValueSource::kStale);
    CHECK(r.remaining_ttl_ms == kStaleTtlMs);
  }
  CHECK(loader->calls == 2);  // the first load and one refresh
  KeyspaceStats s = g->Stats();
  CHECK(s[KeyspaceStats::kStaleServed] == 100);
  CHECK(s[KeyspaceStats::kStaleRevalidations] == 1);
  CHECK(s[KeyspaceStats::kMisses] == 1);
  loader->ReleaseAll();
  GetResult r = g->GetSync("k");
  CHECK(r.value.value() == "k@v2");
  CHECK(r.source == ValueSource::kMain);
  CHECK(r.remaining_ttl_ms == 1000);
  CHECK(g->Stats()[KeyspaceStats::kStaleServed] == 100);
}

TEST_CASE_FIXTURE(SoloNode,
                  "stale: a failed refresh keeps the old value; past the window readers wait") {
  auto g = Start(StaleOptions(2000, 0));
  REQUIRE(g->GetSync("k").status.ok());
  clock.Advance(1000);
  loader->failing = true;
  CHECK(g->GetSync("k").source == ValueSource::kStale);  // refresh 1 fails at once
  CHECK(g->GetSync("k").source == ValueSource::kStale);  // refresh 2 fails at once
  CHECK(loader->calls == 3);
  CHECK(g->Stats()[KeyspaceStats::kStaleRevalidations] == 2);
  clock.Advance(2000);  // the window is over: a reader waits for the load and sees its error
  GetResult r = g->GetSync("k");
  CHECK(r.status.code() == StatusCode::kUnavailable);
  CHECK(r.status.message() == "database down");
  CHECK(g->Stats().main.items == 0);
}

TEST_CASE_FIXTURE(SoloNode, "stale: GetMany serves stale keys like Get, with one refresh each") {
  auto g = Start(StaleOptions(5000, 5000));
  REQUIRE(g->GetSync("a").status.ok());
  REQUIRE(g->GetSync("b").status.ok());
  clock.Advance(1000);
  loader->hold = true;
  std::vector<std::string_view> keys = {"a", "b", "a", "new"};
  std::vector<GetResult> got(keys.size());
  bool all = false;
  g->GetMany(
      keys, {}, [&](size_t i, const GetResult& r) { got[i] = r; }, [&] { all = true; });
  CHECK_FALSE(all);  // "new" waits for its load
  CHECK(got[0].source == ValueSource::kStale);
  CHECK(got[1].source == ValueSource::kStale);
  CHECK(got[2].source == ValueSource::kStale);
  CHECK(loader->calls == 2 + 3);  // two refreshes and one load
  loader->failing = true;
  loader->ReleaseAll();
  CHECK(all);
  CHECK(got[3].status.code() == StatusCode::kUnavailable);  // nothing old to fall back on
  CHECK(g->Stats()[KeyspaceStats::kStaleRevalidations] == 2);
}

TEST_CASE_FIXTURE(SoloNode, "stale: if error, waiters get the old value until the window ends") {
  auto g = Start(StaleOptions(0, 5000));
  REQUIRE(g->GetSync("k").status.ok());
  clock.Advance(1000);
  loader->failing = true;
  GetResult r = g->GetSync("k");
  REQUIRE(r.status.ok());
  CHECK(r.value.value() == "k@solo");
  CHECK(r.source == ValueSource::kStale);
  CHECK(r.remaining_ttl_ms == kStaleTtlMs);
  KeyspaceStats s = g->Stats();
  CHECK(s[KeyspaceStats::kStaleIfErrorServed] == 1);
  CHECK(s[KeyspaceStats::kStaleServed] == 1);
  CHECK(s[KeyspaceStats::kLoadErrors] == 1);
  CHECK(s[KeyspaceStats::kStaleRevalidations] == 0);
  // Many waiters of one failing load all get it.
  loader->hold = true;
  std::vector<GetResult> got;
  for (int i = 0; i < 5; ++i) g->Get("k", {}, [&](const GetResult& x) { got.push_back(x); });
  CHECK(loader->calls == 3);
  loader->ReleaseAll();
  REQUIRE(got.size() == 5);
  for (const GetResult& x : got) CHECK(x.source == ValueSource::kStale);
  loader->hold = false;
  clock.Advance(4999);
  CHECK(g->GetSync("k").source == ValueSource::kStale);
  clock.Advance(1);  // expiry + 5000
  r = g->GetSync("k");
  CHECK(r.status.code() == StatusCode::kUnavailable);
  CHECK(g->Stats()[KeyspaceStats::kStaleIfErrorServed] == 7);
}

TEST_CASE_FIXTURE(SoloNode, "stale: if error covers a load that times out") {
  KeyspaceOptions o = StaleOptions(0, 60000);
  o.load_timeout_ms = 2000;
  auto g = Start(o);
  REQUIRE(g->GetSync("k").status.ok());
  clock.Advance(1000);
  loader->hold = true;
  std::vector<GetResult> got;
  g->Get("k", {}, [&](const GetResult& r) { got.push_back(r); });
  CHECK(got.empty());
  scheduler.AdvanceAndRun(2000);
  REQUIRE(got.size() == 1);
  CHECK(got[0].source == ValueSource::kStale);
  CHECK(got[0].value.value() == "k@solo");
  loader->ReleaseAll();  // the held call holds the group: answer it, as a late loader would
  CHECK(got.size() == 1);
}

TEST_CASE_FIXTURE(SoloNode, "stale: NOT_FOUND from the loader drops the old value") {
  auto g = Start(StaleOptions(0, 60000));
  REQUIRE(g->GetSync("k").status.ok());
  clock.Advance(1000);
  loader->missing.insert("k");
  CHECK(g->GetSync("k").status.code() == StatusCode::kNotFound);
  CHECK(g->Stats().main.items == 0);
  loader->missing.clear();
  loader->failing = true;
  CHECK(g->GetSync("k").status.code() == StatusCode::kUnavailable);  // nothing left to serve
  CHECK(g->Stats()[KeyspaceStats::kStaleServed] == 0);
}

TEST_CASE_FIXTURE(SoloNode, "stale: the loader's per-value windows override the keyspace's") {
  auto custom = std::make_shared<WindowLoader>();
  custom->swr = 3000;
  auto g = StartWith(StaleOptions(0, 0), custom);
  REQUIRE(g->GetSync("a").value.value() == "a:1");
  custom->swr = 0;  // the next value has no window
  clock.Advance(1000);
  GetResult r = g->GetSync("a");
  CHECK(r.source == ValueSource::kStale);
  CHECK(r.value.value() == "a:1");
  r = g->GetSync("a");  // the refresh (a:2, no window) ran synchronously
  CHECK(r.source == ValueSource::kMain);
  CHECK(r.value.value() == "a:2");
  clock.Advance(1000);
  CHECK(g->GetSync("a").source == ValueSource::kLoader);  // expired, no window: loaded again
  CHECK(custom->calls == 3);
}

TEST_CASE_FIXTURE(SoloNode,
                  "stale: a value from Set, or the cache-aside keyspace, is never stale") {
  auto g = StartWith(StaleOptions(5000, 5000), nullptr);
  REQUIRE(g->SetSync("k", "v", -1).status.ok());
  clock.Advance(1000);
  CHECK(g->GetSync("k").status.code() == StatusCode::kNotFound);
}

namespace {

// Breaker: 3 failures, 1 s, doubling up to 4 s.
KeyspaceOptions BreakerOptions() {
  KeyspaceOptions o = Options();
  o.loader_breaker_failures = 3;
  o.loader_breaker_time_ms = 1000;
  o.loader_breaker_max_time_ms = 4000;
  return o;
}

}  // namespace

TEST_CASE_FIXTURE(SoloNode,
                  "breaker: opens after N failed loads, then fails fast without the loader") {
  auto g = Start(BreakerOptions());
  loader->failing = true;
  for (int i = 0; i < 3; ++i) {
    CHECK(g->GetSync("k" + std::to_string(i)).status.message() == "database down");
  }
  CHECK(g->Stats().loader_breaker_open);
  GetResult r = g->GetSync("k9");
  CHECK(r.status.code() == StatusCode::kUnavailable);
  CHECK(r.status.message() ==
        "keyspace 'users': loader circuit open after 3 failed loads, retrying in 1000 ms");
  CHECK(loader->calls == 3);
  KeyspaceStats s = g->Stats();
  CHECK(s[KeyspaceStats::kLoaderBreakerOpens] == 1);
  CHECK(s[KeyspaceStats::kLoadsShortCircuited] == 1);
  CHECK(s[KeyspaceStats::kLoadErrors] == 3);
}

// Answers RESOURCE_EXHAUSTED, as the HTTP and gRPC loaders do for a value over max_value_bytes.
class OversizeLoader : public Loader {
 public:
  void Load(std::string_view, std::string_view, Millis, DoneFn done) override {
    done(ResourceExhaustedError("loader value exceeds max_value_bytes=1024"));
  }
};

TEST_CASE_FIXTURE(SoloNode, "breaker: oversize values (loader's or the keyspace's) do not count") {
  KeyspaceOptions o = BreakerOptions();
  o.max_value_bytes = 64 << 10;
  auto g = StartWith(o, std::make_shared<OversizeLoader>());
  for (int i = 0; i < 5; ++i) {
    CHECK(g->GetSync("k" + std::to_string(i)).status.code() == StatusCode::kResourceExhausted);
  }
  CHECK_FALSE(g->Stats().loader_breaker_open);
  auto custom = std::make_shared<WindowLoader>();  // values of a few bytes
  KeyspaceOptions tiny = BreakerOptions();
  tiny.max_value_bytes = 2;
  auto t = StartWith(tiny, custom);
  for (int i = 0; i < 5; ++i) (void)t->GetSync("key" + std::to_string(i));
  CHECK(t->Stats()[KeyspaceStats::kLoadErrors] == 5);
  CHECK_FALSE(t->Stats().loader_breaker_open);
}

TEST_CASE_FIXTURE(SoloNode, "breaker: NOT_FOUND and a full load queue do not count as failures") {
  KeyspaceOptions o = BreakerOptions();
  o.load_concurrency = 1;
  o.load_queue = 0;
  auto g = Start(o);
  loader->missing = {"a", "b", "c", "d"};
  for (const char* k : {"a", "b", "c", "d"}) {
    CHECK(g->GetSync(k).status.code() == StatusCode::kNotFound);
  }
  loader->hold = true;
  g->Get("held", {}, [](const GetResult&) {});
  for (int i = 0; i < 4; ++i) {
    CHECK(g->GetSync("q" + std::to_string(i)).status.code() == StatusCode::kResourceExhausted);
  }
  CHECK_FALSE(g->Stats().loader_breaker_open);
  loader->hold = false;
  loader->ReleaseAll();
}

TEST_CASE_FIXTURE(
    SoloNode, "breaker: half-opens for one probe, doubles while probes fail, closes on success") {
  auto g = Start(BreakerOptions());
  loader->failing = true;
  for (int i = 0; i < 3; ++i) (void)g->GetSync("k" + std::to_string(i));
  Millis open = 1000;
  for (Millis next : {2000, 4000, 4000}) {
    clock.Advance(open - 1);
    CHECK(g->GetSync("x").status.message().find("loader circuit open") != std::string::npos);
    clock.Advance(1);
    int calls = loader->calls;
    CHECK(g->GetSync("x").status.message() == "database down");  // the probe
    CHECK(loader->calls == calls + 1);
    CHECK(g->GetSync("x").status.message() ==
          "keyspace 'users': loader circuit open after " + std::to_string(calls + 1) +
              " failed loads, retrying in " + std::to_string(next) + " ms");
    open = next;
  }
  clock.Advance(open);
  loader->failing = false;
  loader->hold = true;
  std::vector<GetResult> probe;
  g->Get("x", {}, [&](const GetResult& r) { probe.push_back(r); });
  // While the probe runs, other loads are still refused.
  CHECK(g->GetSync("y").status.message().find("loader circuit open") != std::string::npos);
  loader->ReleaseAll();
  REQUIRE(probe.size() == 1);
  CHECK(probe[0].status.ok());
  CHECK_FALSE(g->Stats().loader_breaker_open);
  loader->hold = false;
  CHECK(g->GetSync("y").status.ok());
  CHECK(g->Stats()[KeyspaceStats::kLoaderBreakerOpens] == 4);
}

TEST_CASE_FIXTURE(SoloNode, "breaker: while open, cached values within stale_if_error are served") {
  KeyspaceOptions o = BreakerOptions();
  o.default_ttl_ms = 1000;
  o.stale_if_error_ms = 60000;
  o.loader_breaker_time_ms = 10000;
  o.loader_breaker_max_time_ms = 10000;
  auto g = Start(o);
  REQUIRE(g->GetSync("cached").status.ok());
  loader->failing = true;
  for (int i = 0; i < 3; ++i) (void)g->GetSync("k" + std::to_string(i));
  REQUIRE(g->Stats().loader_breaker_open);
  clock.Advance(1000);
  int calls = loader->calls;
  GetResult r = g->GetSync("cached");
  CHECK(r.source == ValueSource::kStale);
  CHECK(loader->calls == calls);
  CHECK(g->Stats()[KeyspaceStats::kLoadsShortCircuited] == 1);
}

TEST_CASE_FIXTURE(SoloNode, "breaker: while open, stale-while-revalidate starts no refresh") {
  KeyspaceOptions o = BreakerOptions();
  o.default_ttl_ms = 1000;
  o.stale_while_revalidate_ms = 60000;
  o.loader_breaker_time_ms = 10000;
  o.loader_breaker_max_time_ms = 10000;
  auto g = Start(o);
  REQUIRE(g->GetSync("cached").status.ok());
  loader->failing = true;
  for (int i = 0; i < 3; ++i) (void)g->GetSync("k" + std::to_string(i));
  clock.Advance(1000);
  for (int i = 0; i < 10; ++i) CHECK(g->GetSync("cached").source == ValueSource::kStale);
  KeyspaceStats s = g->Stats();
  CHECK(s[KeyspaceStats::kStaleRevalidations] == 0);
  CHECK(s[KeyspaceStats::kLoadsShortCircuited] == 0);
  CHECK(loader->calls == 4);
  clock.Advance(9000);  // the open time is over: the next stale answer's refresh is the probe
  loader->failing = false;
  CHECK(g->GetSync("cached").source == ValueSource::kStale);
  CHECK(g->Stats()[KeyspaceStats::kStaleRevalidations] == 1);
  CHECK_FALSE(g->Stats().loader_breaker_open);
  CHECK(g->GetSync("cached").source == ValueSource::kMain);
}

TEST_CASE("stale: a non-owner passes the owner's stale answer on and keeps no hot copy") {
  KeyspaceOptions o = StaleOptions(5000, 0);
  o.hot_promote_hits = 1;  // every fetched key is hot
  FakeCluster c(2, o);
  std::string key = c.KeyOwnedBy(0);
  auto* owner = c.nodes[0].get();
  auto* other = c.nodes[1].get();
  GetResult r = other->group->GetSync(key);
  REQUIRE(r.source == ValueSource::kPeer);
  CHECK(other->group->Stats().hot.items == 1);
  c.clock.Advance(1000);  // the owner's value and the hot copy expire
  owner->loader->hold = true;
  r = other->group->GetSync(key);
  REQUIRE(r.status.ok());
  CHECK(r.source == ValueSource::kStale);
  CHECK(r.remaining_ttl_ms == kStaleTtlMs);
  CHECK(r.value.value() == key + "@" + owner->name);
  CHECK(other->group->Stats().hot.items == 0);
  CHECK(other->group->Stats()[KeyspaceStats::kStaleServed] == 1);
  CHECK(owner->group->Stats()[KeyspaceStats::kStaleRevalidations] == 1);
  owner->loader->ReleaseAll();
}

}  // namespace podcache
