// Hit ratio: replays generated traces through the real store (real byte budget, real sharding) with
// each eviction policy (lru, s3fifo, slru, wtinylfu), as a read-through cache would: Lookup, and on
// a miss Insert the value.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_util.h"
#include "bench/sections.h"
#include "bench/zipf.h"
#include "core/hash.h"
#include "core/store.h"

namespace podcache::bench {
namespace {

constexpr double kZipfTheta = 0.99;
constexpr double kCacheFraction = 0.10;

struct Trace {
  std::string name;
  std::string description;
  std::vector<uint32_t> ids;
  // Ids at or above this are the trace's noise (one-hit wonders, scan keys); the miss ratio of the
  // requests below it shows what the policy did for the reusable working set.
  uint32_t noise_begin = std::numeric_limits<uint32_t>::max();
};

// Zipf over `zipf_keys` keys; a fraction of the requests go to fresh keys never requested again.
Trace OneHitWonderTrace(size_t requests, uint32_t zipf_keys, double ohw_fraction, uint64_t seed) {
  Trace t{"one-hit-wonders",
          Format("zipf %.2f over %u keys, %.0f%% of requests to keys never seen again", kZipfTheta,
                 zipf_keys, ohw_fraction * 100),
          {},
          zipf_keys};
  ZipfGenerator zipf(zipf_keys, kZipfTheta);
  SplitMix64 rng(seed);
  uint32_t next_fresh = zipf_keys;
  t.ids.reserve(requests);
  for (size_t i = 0; i < requests; ++i) {
    t.ids.push_back(rng.NextDouble() < ohw_fraction ? next_fresh++
                                                    : static_cast<uint32_t>(zipf.Next(rng)));
  }
  return t;
}

// Zipf over `zipf_keys` keys mixed with a cyclic scan over `scan_keys` other keys (larger than the
// cache): a scan-resistant policy keeps the Zipf working set while the scan streams past.
Trace ScanMixTrace(size_t requests, uint32_t zipf_keys, uint32_t scan_keys, double scan_fraction,
                   uint64_t seed) {
  Trace t{"zipf+scan",
          Format("zipf %.2f over %u keys, %.0f%% of requests a cyclic scan over %u other keys",
                 kZipfTheta, zipf_keys, scan_fraction * 100, scan_keys),
          {},
          zipf_keys};
  ZipfGenerator zipf(zipf_keys, kZipfTheta);
  SplitMix64 rng(seed);
  uint32_t cursor = 0;
  t.ids.reserve(requests);
  for (size_t i = 0; i < requests; ++i) {
    if (rng.NextDouble() < scan_fraction) {
      t.ids.push_back(zipf_keys + cursor);
      cursor = cursor + 1 == scan_keys ? 0 : cursor + 1;
    } else {
      t.ids.push_back(static_cast<uint32_t>(zipf.Next(rng)));
    }
  }
  return t;
}

// A pure cyclic loop over `keys` keys: any policy with a cache smaller than the loop misses always.
Trace LoopTrace(size_t requests, uint32_t keys) {
  Trace t{"loop", Format("cyclic loop over %u keys", keys), {}, 0};
  t.ids.reserve(requests);
  for (size_t i = 0; i < requests; ++i) t.ids.push_back(static_cast<uint32_t>(i % keys));
  return t;
}

// Zipf over a window of `window` key ids whose start moves by `shift` every `phase` requests: the
// hottest ids each phase are new keys and last phase's lukewarm keys become the hot ones.
Trace ShiftingTrace(size_t requests, uint32_t window, uint32_t shift, size_t phase, uint64_t seed) {
  Trace t{"shifting-hot-set",
          Format("zipf %.2f over %u keys, offset +%u keys every %zu requests", kZipfTheta, window,
                 shift, phase),
          {},
          std::numeric_limits<uint32_t>::max()};
  ZipfGenerator zipf(window, kZipfTheta);
  SplitMix64 rng(seed);
  t.ids.reserve(requests);
  for (size_t i = 0; i < requests; ++i) {
    uint32_t offset = static_cast<uint32_t>(i / phase) * shift;
    t.ids.push_back(offset + static_cast<uint32_t>(zipf.Next(rng)));
  }
  return t;
}

size_t UniqueKeys(const Trace& t) {
  uint32_t max_id = *std::max_element(t.ids.begin(), t.ids.end());
  std::vector<bool> seen(size_t{max_id} + 1);
  size_t unique = 0;
  for (uint32_t id : t.ids) {
    if (!seen[id]) {
      seen[id] = true;
      ++unique;
    }
  }
  return unique;
}

struct SimResult {
  double miss_ratio = 0;
  double reuse_miss_ratio = 0;  // over requests to ids below noise_begin
  uint64_t items_at_end = 0;
  size_t shards = 0;
  double seconds = 0;
};

SimResult Simulate(const Trace& t, EvictionPolicy policy, size_t max_bytes) {
  StoreOptions so;
  so.max_bytes = max_bytes;
  so.policy = policy;
  std::unique_ptr<Store> store = NewStore(so);
  char key[kKeySize];
  char value[kValueSize];
  FormatValue(3, value);
  uint64_t misses = 0, reuse_requests = 0, reuse_misses = 0;
  double t0 = NowSeconds();
  for (uint32_t id : t.ids) {
    FormatKey(id, key);
    std::string_view k(key, kKeySize);
    uint64_t h = HashBytes(k);
    bool reuse = id < t.noise_begin;
    reuse_requests += reuse;
    if (!store->Lookup(k, h)) {
      ++misses;
      reuse_misses += reuse;
      store->Insert(ValueRef::Make(k, h, std::string_view(value, kValueSize)), store->generation());
    }
  }
  SimResult r;
  r.seconds = NowSeconds() - t0;
  r.miss_ratio = static_cast<double>(misses) / t.ids.size();
  r.reuse_miss_ratio = reuse_requests ? static_cast<double>(reuse_misses) / reuse_requests : -1;
  r.items_at_end = store->Stats().items;
  r.shards = store->num_shards();
  return r;
}

}  // namespace

void RunHitRatioBench(const BenchOptions& options, Summary* summary) {
  // Sizes are divided by 10 in quick mode.
  const uint32_t s = options.quick ? 10 : 1;
  std::vector<Trace> traces;
  // The FLOOR's trace (the first) has a Zipf set the cache could hold but for the one-hit wonders;
  // the second, with a Zipf set ten times larger than the cache, shows how the margin shrinks when
  // even a perfect policy must miss on the Zipf tail.
  traces.push_back(OneHitWonderTrace(3'000'000 / s, 100'000 / s, 0.30, 11));
  traces.push_back(OneHitWonderTrace(4'000'000 / s, 1'000'000 / s, 0.30, 14));
  traces.back().name = "one-hit-wonders-L";
  traces.push_back(ScanMixTrace(4'000'000 / s, 200'000 / s, 1'000'000 / s, 0.50, 12));
  traces.push_back(LoopTrace(2'000'000 / s, 500'000 / s));
  traces.push_back(ShiftingTrace(4'000'000 / s, 100'000 / s, 10'000 / s, 200'000 / s, 13));

  // The byte charge of one entry in the store, as it accounts it (allocation plus malloc header).
  char key[kKeySize];
  char value[kValueSize];
  FormatKey(0, key);
  FormatValue(0, value);
  std::string_view k(key, kKeySize);
  const size_t charge =
      ValueRef::Make(k, HashBytes(k), std::string_view(value, kValueSize)).entry()->Charge();

  std::printf(
      "\n== hit ratio: cache budget = %.0f%% of trace footprint (unique keys x %zu B entry "
      "charge); miss ratio over all requests, cold start included ==\n",
      kCacheFraction * 100, charge);
  const StoreOptions defaults;
  const std::string def(EvictionPolicyName(defaults.policy));
  std::printf("%-17s %9s %9s %9s %10s %10s %10s %10s %9s %9s %9s %12s %12s\n", "trace", "requests",
              "unique", "budget", "lru miss", "s3f miss", "slru miss", "wtlfu miss", "s3f/lru",
              "slru/lru", "wtlfu/lru", "lru reuse", (def + " reuse").c_str());

  bool all_le = true;
  std::string worse;
  double ohw_ratio = -1;
  for (const Trace& t : traces) {
    size_t unique = UniqueKeys(t);
    auto budget = static_cast<size_t>(kCacheFraction * static_cast<double>(unique * charge));
    SimResult lru = Simulate(t, EvictionPolicy::kLru, budget);
    SimResult s3 = Simulate(t, EvictionPolicy::kS3Fifo, budget);
    SimResult slru = Simulate(t, EvictionPolicy::kSlru, budget);
    SimResult wtlfu = Simulate(t, EvictionPolicy::kWTinyLfu, budget);
    const SimResult& dflt = defaults.policy == EvictionPolicy::kS3Fifo     ? s3
                            : defaults.policy == EvictionPolicy::kSlru     ? slru
                            : defaults.policy == EvictionPolicy::kWTinyLfu ? wtlfu
                                                                           : lru;
    auto vs_lru = [&](const SimResult& r) {
      return lru.miss_ratio > 0 ? r.miss_ratio / lru.miss_ratio : 1.0;
    };
    auto reuse = [](double r) { return r < 0 ? std::string("-") : Format("%.4f", r); };
    std::printf(
        "%-17s %9zu %9zu %8.1fM %10.4f %10.4f %10.4f %10.4f %8.3fx %8.3fx %8.3fx %12s %12s\n",
        t.name.c_str(), t.ids.size(), unique, budget / 1048576.0, lru.miss_ratio, s3.miss_ratio,
        slru.miss_ratio, wtlfu.miss_ratio, vs_lru(s3), vs_lru(slru), vs_lru(wtlfu),
        reuse(lru.reuse_miss_ratio).c_str(), reuse(dflt.reuse_miss_ratio).c_str());
    std::printf("    %s; %zu shards; simulated in %.1f + %.1f + %.1f + %.1f s\n",
                t.description.c_str(), dflt.shards, lru.seconds, s3.seconds, slru.seconds,
                wtlfu.seconds);
    if (dflt.miss_ratio > lru.miss_ratio) {
      all_le = false;
      worse += Format(" %s (%.3fx)", t.name.c_str(), vs_lru(dflt));
    }
    if (&t == &traces[0]) ohw_ratio = vs_lru(dflt);
  }
  std::printf(
      "(\"reuse\" = miss ratio over the requests that are not one-hit wonders or scan keys)\n");
  summary->Add("FLOOR",
               "hit-ratio default(" + def + ") miss <= lru miss on every trace:" +
                   (all_le ? std::string("") : " worse on" + worse),
               all_le);
  summary->Add("FLOOR",
               Format("one-hit-wonder trace: %s miss <= 0.9x lru: %.3fx", def.c_str(), ohw_ratio),
               ohw_ratio >= 0 && ohw_ratio <= 0.9);
}

}  // namespace podcache::bench
