// Get-hit throughput: every key is loaded before timing, so every Get is a hit and the figure is
// the cost of the read path alone (hash, lock, index, recency update, handing the value out).

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/naive_lru.h"
#include "bench/sections.h"
#include "bench/zipf.h"
#include "core/hash.h"
#include "core/store.h"

namespace podcache::bench {
namespace {

constexpr double kZipfTheta = 0.99;
constexpr int kMaxThreads = 2;
constexpr int kTrials = 9;

// All keys back to back, 16 bytes each: the caller's side of a Get is one string_view into a
// buffer, as it would be for a key parsed out of a request, and costs every implementation the
// same.
class KeySet {
 public:
  explicit KeySet(size_t n) : n_(n), buf_(n * kKeySize) {
    for (size_t i = 0; i < n; ++i) FormatKey(i, &buf_[i * kKeySize]);
  }
  std::string_view key(size_t i) const { return {&buf_[i * kKeySize], kKeySize}; }
  size_t size() const { return n_; }

 private:
  size_t n_;
  std::vector<char> buf_;
};

// Key indexes, precomputed so the generator is not timed. Length is a power of two (wraps by mask).
using Stream = std::vector<uint32_t>;

Stream UniformStream(uint32_t n_keys, size_t len, uint64_t seed) {
  SplitMix64 rng(seed);
  Stream s(len);
  for (auto& x : s) x = static_cast<uint32_t>(rng.Below(n_keys));
  return s;
}

Stream ZipfStream(const ZipfGenerator& zipf, const std::vector<uint32_t>& perm, size_t len,
                  uint64_t seed) {
  SplitMix64 rng(seed);
  Stream s(len);
  for (auto& x : s) x = perm[zipf.Next(rng)];
  return s;
}

struct TrialResult {
  double ops_per_sec = 0;
  uint64_t ops = 0;
  uint64_t misses = 0;
  uint64_t sink = 0;
  uint64_t context_switches = 0;
};

// Per-thread results on their own cache line so the threads do not false-share while counting.
struct alignas(64) ThreadResult {
  uint64_t ops = 0;
  uint64_t misses = 0;
  uint64_t sink = 0;
  double seconds = 0;
  uint64_t context_switches = 0;
};

// Context switches of the calling thread so far. A thread that blocks on a contended lock sleeps in
// the kernel (futex) and shows up here; a thread that only computes does not.
uint64_t ThreadContextSwitches() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return static_cast<uint64_t>(ru.ru_nvcsw + ru.ru_nivcsw);
}

// Runs `probe` on one thread per stream for about `seconds`. The threads start together (all are
// waiting before the start flag goes up) and stop when the main thread raises the stop flag; each
// times itself, and the rate is the sum of the per-thread rates. `probe(key)` returns 0 for a miss
// and otherwise something derived from the value's bytes, which goes into a sink the compiler must
// keep, so no lookup can be optimized away.
template <typename Probe>
TrialResult RunTrial(const KeySet& keys, const std::vector<const Stream*>& streams, double seconds,
                     const Probe& probe) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::vector<ThreadResult> results(streams.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < streams.size(); ++t) {
    threads.emplace_back([&, t] {
      const uint32_t* s = streams[t]->data();
      const size_t mask = streams[t]->size() - 1;
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      uint64_t csw0 = ThreadContextSwitches();
      double t0 = NowSeconds();
      uint64_t i = 0, misses = 0, sink = 0;
      do {
        // Check the stop flag once per 256 Gets so polling it costs nothing measurable.
        for (int k = 0; k < 256; ++k, ++i) {
          uint64_t v = probe(keys.key(s[i & mask]));
          misses += v == 0;
          sink += v;
        }
      } while (!stop.load(std::memory_order_relaxed));
      double t1 = NowSeconds();
      results[t] = {i, misses, sink, t1 - t0, ThreadContextSwitches() - csw0};
    });
  }
  while (ready.load() < static_cast<int>(streams.size())) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true, std::memory_order_relaxed);
  for (auto& th : threads) th.join();
  TrialResult out;
  for (const ThreadResult& r : results) {
    out.ops_per_sec += static_cast<double>(r.ops) / r.seconds;
    out.ops += r.ops;
    out.misses += r.misses;
    out.sink += r.sink;
    out.context_switches += r.context_switches;
  }
  return out;
}

uint64_t Digest(std::string_view v) { return v.size() + static_cast<unsigned char>(v[0]); }

// A naive Get returns an owned copy of the value (malloc + memcpy + free per hit).
template <typename Naive>
struct NaiveProbe {
  Naive* cache;
  uint64_t operator()(std::string_view key) const {
    std::optional<std::string> v = cache->Get(key);
    return v ? Digest(*v) : 0;
  }
};

// podcache's Get: hash the key, look it up, read through the returned reference (no copy).
struct PodcacheProbe {
  Store* store;
  uint64_t operator()(std::string_view key) const {
    ValueRef r = store->Lookup(key, HashBytes(key));
    return r ? Digest(r.value()) : 0;
  }
};

using Runner = std::function<TrialResult(const std::vector<const Stream*>&, double)>;

struct Impl {
  std::string name;
  Runner run;
};

}  // namespace

void RunGetBench(const BenchOptions& options, Summary* summary) {
  const uint32_t n_keys = options.quick ? 100'000 : 1'000'000;
  const size_t stream_len = options.quick ? size_t{1} << 18 : size_t{1} << 22;
  const double trial_seconds = options.quick ? 0.1 : 0.3;
  const char* kDists[] = {"uniform", "zipf"};

  std::printf("\n== get-hit throughput: %u keys (%zu B), %zu B values, all hits ==\n", n_keys,
              kKeySize, kValueSize);
  std::printf(
      "median of %d interleaved trials x %.2f s per cell; one precomputed stream per thread; "
      "zipf theta %.2f, ranks scrambled by a random permutation\n",
      kTrials, trial_seconds, kZipfTheta);

  double t_setup = NowSeconds();
  KeySet keys(n_keys);
  // streams[dist][thread]
  std::vector<std::vector<Stream>> streams(2);
  {
    ZipfGenerator zipf(n_keys, kZipfTheta);
    std::vector<uint32_t> perm = RandomPermutation(n_keys, 42);
    for (int t = 0; t < kMaxThreads; ++t) {
      streams[0].push_back(UniformStream(n_keys, stream_len, 1000 + t));
      streams[1].push_back(ZipfStream(zipf, perm, stream_len, 2000 + t));
    }
  }

  // Every implementation holds every key; none may evict.
  NaiveLru naive(n_keys);
  ShardedNaiveLru sharded(n_keys);
  StoreOptions so;
  so.max_bytes = size_t{1} << 30;
  so.policy = EvictionPolicy::kSlru;  // the default policy
  std::unique_ptr<Store> pod_slru = NewStore(so);
  so.policy = EvictionPolicy::kLru;
  std::unique_ptr<Store> pod_lru = NewStore(so);
  {
    char value[kValueSize];
    for (uint32_t i = 0; i < n_keys; ++i) {
      std::string_view k = keys.key(i);
      FormatValue(i, value);
      std::string_view v(value, kValueSize);
      naive.Put(k, v);
      sharded.Put(k, v);
      uint64_t h = HashBytes(k);
      pod_slru->Insert(ValueRef::Make(k, h, v), pod_slru->generation());
      pod_lru->Insert(ValueRef::Make(k, h, v), pod_lru->generation());
    }
  }
  std::printf(
      "setup %.1f s: naive %zu items, naive-64shard %zu, podcache-slru %llu (%zu shards), "
      "podcache-lru %llu\n",
      NowSeconds() - t_setup, naive.size(), sharded.size(),
      static_cast<unsigned long long>(pod_slru->Stats().items), pod_slru->num_shards(),
      static_cast<unsigned long long>(pod_lru->Stats().items));

  std::vector<Impl> impls;
  impls.push_back({"naive-lru", [&](const std::vector<const Stream*>& s, double secs) {
                     return RunTrial(keys, s, secs, NaiveProbe<NaiveLru>{&naive});
                   }});
  impls.push_back({"naive-lru-64shard", [&](const std::vector<const Stream*>& s, double secs) {
                     return RunTrial(keys, s, secs, NaiveProbe<ShardedNaiveLru>{&sharded});
                   }});
  impls.push_back({"podcache-slru", [&](const std::vector<const Stream*>& s, double secs) {
                     return RunTrial(keys, s, secs, PodcacheProbe{pod_slru.get()});
                   }});
  impls.push_back({"podcache-lru", [&](const std::vector<const Stream*>& s, double secs) {
                     return RunTrial(keys, s, secs, PodcacheProbe{pod_lru.get()});
                   }});

  // rates[impl][dist][threads - 1] = one rate per trial. Trials are interleaved across all cells
  // (round-robin) so a noisy neighbour on a shared VM slows every implementation alike, and the
  // median drops the outliers.
  std::vector<std::vector<std::vector<std::vector<double>>>> rates(
      impls.size(), std::vector<std::vector<std::vector<double>>>(
                        2, std::vector<std::vector<double>>(kMaxThreads)));
  // Context switches per 1000 Gets in the 2-thread cells, summed over the trials.
  std::vector<std::vector<uint64_t>> csw(impls.size(), std::vector<uint64_t>(2));
  std::vector<std::vector<uint64_t>> csw_ops(impls.size(), std::vector<uint64_t>(2));
  uint64_t misses = 0, sink = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    for (size_t i = 0; i < impls.size(); ++i) {
      for (int d = 0; d < 2; ++d) {
        for (int threads = 1; threads <= kMaxThreads; ++threads) {
          std::vector<const Stream*> s;
          for (int t = 0; t < threads; ++t) s.push_back(&streams[d][t]);
          TrialResult r = impls[i].run(s, trial_seconds);
          rates[i][d][threads - 1].push_back(r.ops_per_sec);
          misses += r.misses;
          sink += r.sink;
          if (threads == kMaxThreads) {
            csw[i][d] += r.context_switches;
            csw_ops[i][d] += r.ops;
          }
        }
      }
    }
  }

  // med[impl][dist][threads - 1]
  std::vector<std::vector<std::vector<double>>> med(
      impls.size(), std::vector<std::vector<double>>(2, std::vector<double>(kMaxThreads)));
  // spread = (max - min) / median over a cell's trials, the worse of its 1t and 2t cells: how much
  // to trust a ratio on a shared VM.
  std::printf("%-20s %-8s %10s %10s %7s %8s %15s\n", "impl", "dist", "1t Mops/s", "2t Mops/s",
              "2t/1t", "spread", "2t csw/1k gets");
  for (size_t i = 0; i < impls.size(); ++i) {
    for (int d = 0; d < 2; ++d) {
      double spread = 0;
      for (int t = 0; t < kMaxThreads; ++t) {
        const std::vector<double>& v = rates[i][d][t];
        med[i][d][t] = Median(v);
        spread = std::max(spread, (*std::max_element(v.begin(), v.end()) -
                                   *std::min_element(v.begin(), v.end())) /
                                      med[i][d][t]);
      }
      std::printf("%-20s %-8s %10.2f %10.2f %6.2fx %7.0f%% %15.2f\n", impls[i].name.c_str(),
                  kDists[d], med[i][d][0] / 1e6, med[i][d][1] / 1e6, med[i][d][1] / med[i][d][0],
                  spread * 100,
                  1000.0 * static_cast<double>(csw[i][d]) /
                      static_cast<double>(std::max<uint64_t>(csw_ops[i][d], 1)));
    }
  }
  if (misses != 0) {
    std::printf("WARNING: %llu misses in a get-hit benchmark: the figures are not pure hits\n",
                static_cast<unsigned long long>(misses));
  }
  std::printf("checksum %llu\n", static_cast<unsigned long long>(sink));

  constexpr size_t kNaive = 0, kSharded = 1, kPodSlru = 2, kPodLru = 3;
  auto ratio_line = [&](const char* label, size_t a, int ta, size_t b, int tb, double* min_ratio) {
    std::string line = label;
    *min_ratio = 1e300;
    for (int d = 0; d < 2; ++d) {
      double r = med[a][d][ta - 1] / med[b][d][tb - 1];
      *min_ratio = std::min(*min_ratio, r);
      line += Format(" %s %.2fx", kDists[d], r);
    }
    return line;
  };
  double m = 0;
  std::printf("ratios (median rates):\n");
  struct Ratio {
    const char* label;
    size_t a;
    int ta;
    size_t b;
    int tb;
  };
  for (const Ratio& r :
       {Ratio{"1t podcache-slru/naive-lru:        ", kPodSlru, 1, kNaive, 1},
        Ratio{"1t podcache-lru/naive-lru:           ", kPodLru, 1, kNaive, 1},
        Ratio{"1t podcache-slru/naive-lru-64shard:", kPodSlru, 1, kSharded, 1},
        Ratio{"2t podcache-slru/naive-lru-64shard:", kPodSlru, 2, kSharded, 2},
        Ratio{"2t/1t podcache-lru:                  ", kPodLru, 2, kPodLru, 1},
        Ratio{"2t/1t naive-lru-64shard:             ", kSharded, 2, kSharded, 1}}) {
    std::printf("  %s\n", ratio_line(r.label, r.a, r.ta, r.b, r.tb, &m).c_str());
  }

  std::string text = ratio_line("get-hit 1t podcache/naive >= 2.0:", kPodSlru, 1, kNaive, 1, &m);
  summary->Add("FLOOR", text, m >= 2.0);
  text = ratio_line("get-hit 2t/1t >= 1.8:", kPodSlru, 2, kPodSlru, 1, &m);
  summary->Add("FLOOR", text, m >= 1.8);
}

}  // namespace podcache::bench
