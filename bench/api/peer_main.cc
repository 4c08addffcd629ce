// podcache_peer_bench: remote-owner Gets through a podcache sidecar (two real processes, mTLS
// between them) against the same gRPC chain without a cache (load -> proxy -> mTLS echo) and a
// one-hop mTLS echo, in one run, at several concurrency levels. A report, not a test: the exit
// code is 0 whenever it ran, whatever the FLOOR/GOAL verdicts. See bench/api/README.md.
//
//   podcache_peer_bench [--quick] [--duration=S] [--rounds=N] [--inflight=N,N...] [--channels=K]
//                       [--keys=N] [--no-pin] [--podcache=PATH]

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <thread>

#include "bench/api/peer_bench.h"
#include "bench/bench_util.h"
#include "bench/memcached_process.h"

namespace podcache::bench {
namespace {

constexpr size_t kValue = 100;
// Go groupcache's remote-owner Get throughput on this machine (3 nodes, 64 workers): the product
// goal of issue 4.
constexpr double kGroupcacheQps = 25'000;
constexpr int kGoalInflight = 64;

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }
double ServerUs(const LoadResult& r) { return Ratio(r.server_cpu * 1e6, r.qps); }

char g_cert_dir[128];  // for RemoveCertsAndDie; the children die by PR_SET_PDEATHSIG

void RemoveCertsAndDie(int sig) {
  char path[256];
  for (const char* file : g_cert_dir[0] ? kCertFiles : std::span<const char* const>()) {
    std::snprintf(path, sizeof(path), "%s/%s", g_cert_dir, file);  // no allocation
    unlink(path);
  }
  rmdir(g_cert_dir);
  signal(sig, SIG_DFL);
  raise(sig);
}

struct Options {
  std::string podcache = PODCACHE_BINARY;
  bool quick = false;
  bool pin = true;
  std::vector<int> inflight = {1, 64, 256};
  int rounds = 3;  // each level's three cells run this many times, interleaved; medians reported
  int keys = kKeys;
  LoadOptions load;
};

// The three measurements at one concurrency level.
struct Level {
  int inflight = 0;
  LoadResult echo, model, podcache;
  NodeCounters a;           // node a's counters over the podcache measurement
  uint64_t not_remote = 0;  // Gets that a did not send to b: must be 0
};

// The run with the median QPS; errors of every run are added to it.
LoadResult MedianByQps(std::vector<LoadResult> runs) {
  long errors = 0;
  std::string first_error;
  for (const LoadResult& r : runs) {
    errors += r.errors;
    if (first_error.empty()) first_error = r.first_error;
  }
  std::sort(runs.begin(), runs.end(),
            [](const LoadResult& x, const LoadResult& y) { return x.qps < y.qps; });
  LoadResult median = runs[runs.size() / 2];
  median.errors = errors;
  median.first_error = first_error;
  return median;
}

bool StartServer(ChildProcess* child, const std::vector<std::string>& argv, int port, int cpu) {
  if (child->Start(argv, cpu) && WaitUntil(child, 10, [port] {
        int fd = Connect(port);
        return fd >= 0 && close(fd) == 0;
      })) {
    return true;
  }
  std::printf("%s did not start on port %d\n", argv[1].c_str(), port);
  return false;
}

void PrintRow(const char* name, int inflight, const LoadResult& r, const char* const names[2],
              uint64_t extra_errors) {
  std::string cpus;
  for (size_t i = 0; i < r.server_cpus.size(); ++i) {
    cpus += Format("%s%s %.2f", i ? " + " : "", names[i], r.server_cpus[i]);
  }
  std::printf("%-16s %8d %9.0f %8.0f %8.0f %7.2f %7.2f  %-22s %8.1f %7lu\n", name, inflight, r.qps,
              r.p50_us, r.p99_us, r.client_cpu, r.server_cpu, cpus.c_str(), ServerUs(r),
              static_cast<unsigned long>(r.errors + extra_errors));
  if (!r.first_error.empty()) std::printf("  first error: %s\n", r.first_error.c_str());
}

int Run(const Options& o) {
  std::printf(
      "podcache_peer_bench%s: %u CPUs, %d keys owned by node b, %zu B values, %.1f s per "
      "cell, median of %d interleaved rounds, %d client channels",
      o.quick ? " --quick" : "", std::thread::hardware_concurrency(), o.keys, kValue,
      o.load.duration_seconds, o.rounds, o.load.channels);
#if defined(__OPTIMIZE__) && defined(NDEBUG)
  std::printf(", optimized\n");
#else
  std::printf("\nWARNING: not an optimized NDEBUG build: the figures mean nothing\n");
#endif
  // Before gRPC starts threads: they inherit the CPU.
  std::vector<int> cpus = o.pin ? PinClient() : std::vector<int>();
  int server_cpu = cpus.empty() ? -1 : cpus[1];
  if (!o.pin) {
    std::printf("not pinned (--no-pin): the load generator and the servers share every CPU\n");
  } else if (cpus.empty()) {
    std::printf("not pinned: only 1 CPU available, client and servers share it\n");
  } else {
    std::printf("pinned: load generator on CPU %d, every server process on CPU %d\n", cpus[0],
                server_cpu);
  }
  if (access(o.podcache.c_str(), X_OK) != 0) {
    std::printf("no podcache binary at %s: build it or pass --podcache=PATH\n", o.podcache.c_str());
    return 1;
  }
  BackgroundLoad background;
  TestCertificates certs;
  if (std::string e = certs.Make(); !e.empty()) {
    std::printf("certificates: %s\n", e.c_str());
    return 1;
  }
  std::snprintf(g_cert_dir, sizeof(g_cert_dir), "%s", certs.dir().c_str());
  PeerCluster cluster;
  if (std::string e = cluster.Start(o.podcache, certs, server_cpu); !e.empty()) {
    std::printf("%s\n", e.c_str());
    return 1;
  }
  std::vector<std::string> keys;
  double pick_start = NowSeconds();
  if (std::string e = cluster.PickRemoteKeys(o.keys, kValue, &keys); !e.empty()) {
    std::printf("picking the keys node b owns: %s\n", e.c_str());
    return 1;
  }
  std::printf("setup: %zu keys owned by b stored and checked in %.1f s (SOURCE_PEER through a)\n",
              keys.size(), NowSeconds() - pick_start);

  // Node b's certificate for the echo (it plays b), node a's for the proxy and the one-hop client.
  TlsFiles a = certs.Files("a"), b = certs.Files("b");
  int echo_port = FreePort(), proxy_port = FreePort();
  std::string echo = Format("127.0.0.1:%d", echo_port), proxy = Format("127.0.0.1:%d", proxy_port);
  ChildProcess echo_child, proxy_child;
  if (!StartServer(
          &echo_child,
          {"/proc/self/exe", "--serve-tls-echo", std::to_string(kValue), echo, b.cert, b.key, b.ca},
          echo_port, server_cpu) ||
      !StartServer(&proxy_child,
                   {"/proc/self/exe", "--serve-proxy", proxy, echo, a.cert, a.key, a.ca},
                   proxy_port, server_cpu)) {
    return 1;
  }

  std::printf(
      "\n== remote-owner Get: podcache a -> b over mTLS vs the same chain without a cache ==\n");
  std::printf(
      "target           inflight       QPS   p50 µs   p99 µs  cliCPU  srvCPU  per process  "
      "          srvµs/call  errors\n");
  static const char* const kEchoNames[] = {"echo", ""};
  static const char* const kModelNames[] = {"proxy", "echo"};
  static const char* const kPodcacheNames[] = {"a", "b"};
  std::vector<Level> levels;
  for (int inflight : o.inflight) {
    Level l;
    l.inflight = inflight;
    LoadOptions load = o.load;
    load.inflight = inflight;
    load.channels = std::min(o.load.channels, inflight);
    load.keys = keys;
    LoadOptions tls = load;  // the client dials the echo as a peer would
    tls.credentials = PeerChannelCredentials(LoadTls(a), std::make_shared<TlsRejectionCounters>());
    tls.tls_target_name = kPeerName;
    tls.server_pids = {echo_child.pid()};
    LoadOptions model = load;
    model.expect_source = v1::SOURCE_PEER;
    model.server_pids = {proxy_child.pid(), echo_child.pid()};
    LoadOptions remote = model;
    remote.server_pids = {cluster.pid(0), cluster.pid(1)};
    // Rounds interleave the three cells, so that a slow moment of a shared machine hits all of
    // them alike, and each row is its median round. a is idle outside its own cells, so its
    // counters over all rounds are those of its cells.
    std::vector<LoadResult> echo_runs, model_runs, podcache_runs;
    NodeCounters before = cluster.CountersOfA();
    for (int round = 0; round < o.rounds; ++round) {
      echo_runs.push_back(RunClosedLoop(echo, tls, kValue, 1));
      model_runs.push_back(RunClosedLoop(proxy, model, kValue, 1));
      podcache_runs.push_back(RunClosedLoop(cluster.a_api(), remote, kValue, 1));
    }
    l.a = cluster.CountersOfA().Minus(before);
    l.echo = MedianByQps(echo_runs);
    l.model = MedianByQps(model_runs);
    l.podcache = MedianByQps(podcache_runs);
    PrintRow("tls echo (1 hop)", inflight, l.echo, kEchoNames, 0);
    PrintRow("two-hop model", inflight, l.model, kModelNames, 0);
    // Anything a answered without a call to b: its own stores, a fallback load, a failed call.
    l.not_remote = l.a.main_hits + l.a.hot_hits + l.a.Get("local_fallback_loads") +
                   l.a.Get("peer_errors") + l.a.Get("hot_promotions");
    PrintRow("podcache remote", inflight, l.podcache, kPodcacheNames, l.not_remote);
    uint64_t batched = l.a.peer_batched_keys;
    std::printf(
        "  a: %lu Gets, %lu peer fetches (%lu merged), %lu keys in %lu batches (%.1f per "
        "batch), not sent to b: %lu%s%s\n",
        static_cast<unsigned long>(l.a.Get("gets")),
        static_cast<unsigned long>(l.a.Get("peer_gets")),
        static_cast<unsigned long>(l.a.Get("loads_deduped")), static_cast<unsigned long>(batched),
        static_cast<unsigned long>(l.a.peer_batches),
        Ratio(static_cast<double>(batched), static_cast<double>(l.a.peer_batches)),
        static_cast<unsigned long>(l.not_remote), l.a.error.empty() ? "" : "; ", l.a.error.c_str());
    levels.push_back(l);
  }
  std::printf(
      "(cliCPU, srvCPU: CPUs busy in the load generator and in the server processes; "
      "srvµs/call: their CPU per call)\n\n");

  Summary summary;
  const Level* goal_level = nullptr;
  for (const Level& l : levels) {
    std::printf(
        "ratio podcache/two-hop model inflight %3d: QPS %.2fx  p99 %.2fx  srvµs/call %.2fx\n",
        l.inflight, Ratio(l.podcache.qps, l.model.qps), Ratio(l.podcache.p99_us, l.model.p99_us),
        Ratio(ServerUs(l.podcache), ServerUs(l.model)));
    std::printf("ratio podcache/tls echo    inflight %3d: QPS %.2fx  p99 %.2fx  srvµs/call %.2fx\n",
                l.inflight, Ratio(l.podcache.qps, l.echo.qps),
                Ratio(l.podcache.p99_us, l.echo.p99_us),
                Ratio(ServerUs(l.podcache), ServerUs(l.echo)));
    if (goal_level == nullptr || l.inflight == kGoalInflight ||
        (goal_level->inflight != kGoalInflight && l.inflight > goal_level->inflight)) {
      goal_level = &l;
    }
  }
  auto valid = [](const Level& l) {
    return l.podcache.errors == 0 && l.model.errors == 0 && l.not_remote == 0 &&
           l.a.error.empty() && l.podcache.calls > 0 && l.model.calls > 0;
  };
  for (const Level& l : levels) {
    double q = Ratio(l.podcache.qps, l.model.qps);
    summary.Add("FLOOR",
                Format("peer remote-get qps >= 0.85x two-hop model (inflight %d: %.2fx%s)",
                       l.inflight, q, valid(l) ? "" : ", with errors"),
                valid(l) && q >= 0.85);
  }
  if (goal_level != nullptr) {
    const Level& l = *goal_level;
    summary.Add("GOAL",
                Format("peer remote-get qps > Go groupcache's %.0f/s (3 nodes, 64 workers; "
                       "podcache at inflight %d: %.0f/s, %.2fx%s)",
                       kGroupcacheQps, l.inflight, l.podcache.qps, l.podcache.qps / kGroupcacheQps,
                       valid(l) ? "" : ", with errors"),
                valid(l) && l.podcache.qps > kGroupcacheQps);
  }
  proxy_child.Stop();
  echo_child.Stop();
  cluster.Stop();
  summary.Note(background.Describe());
  summary.Print();
  return 0;
}

// Parses "1,64,256" into positive integers; false on anything else.
bool ParseLevels(std::string_view text, std::vector<int>* out) {
  out->clear();
  while (!text.empty()) {
    size_t comma = std::min(text.find(','), text.size());
    int n = std::atoi(std::string(text.substr(0, comma)).c_str());
    if (n <= 0) return false;
    out->push_back(n);
    text.remove_prefix(std::min(comma + 1, text.size()));
  }
  return !out->empty();
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 6 && args[0] == "--serve-tls-echo") {  // hidden: SIZE LISTEN CERT KEY CA
    return RunTlsEchoServer(std::stoul(args[1]), args[2],
                            TlsFiles{args[3], args[4], args[5], kPeerName});
  }
  if (args.size() == 6 && args[0] == "--serve-proxy") {  // hidden: LISTEN UPSTREAM CERT KEY CA
    return RunProxyServer(args[1], args[2], TlsFiles{args[3], args[4], args[5], kPeerName});
  }
  Options o;
  o.load.duration_seconds = 2;
  bool duration_given = false, levels_given = false, keys_given = false, rounds_given = false;
  bool bad = false;
  for (std::string_view arg : std::vector<std::string_view>(argv + 1, argv + argc)) {
    auto value = [arg](std::string_view flag) { return std::string(arg.substr(flag.size())); };
    if (arg == "--quick") {
      o.quick = true;
    } else if (arg.starts_with("--duration=")) {
      o.load.duration_seconds = std::atof(value("--duration=").c_str());
      duration_given = true;
    } else if (arg.starts_with("--inflight=")) {
      bad |= !ParseLevels(arg.substr(11), &o.inflight);
      levels_given = true;
    } else if (arg.starts_with("--rounds=")) {
      o.rounds = std::atoi(value("--rounds=").c_str());
      rounds_given = true;
    } else if (arg.starts_with("--channels=")) {
      o.load.channels = std::atoi(value("--channels=").c_str());
    } else if (arg.starts_with("--keys=")) {
      o.keys = std::atoi(value("--keys=").c_str());
      keys_given = true;
    } else if (arg == "--no-pin") {
      o.pin = false;
    } else if (arg.starts_with("--podcache=")) {
      o.podcache = value("--podcache=");
    } else {
      bad = true;
    }
  }
  if (o.quick) {
    if (!duration_given) o.load.duration_seconds = 1;
    if (!levels_given) o.inflight = {1, 64};
    if (!keys_given) o.keys = 2'000;
    if (!rounds_given) o.rounds = 1;
    o.load.warmup_seconds = 0.3;
  }
  if (bad || o.load.duration_seconds <= 0 || o.load.channels <= 0 || o.keys <= 0 || o.rounds <= 0) {
    std::fprintf(
        stderr,
        "usage: podcache_peer_bench [--quick] [--duration=S] [--rounds=N] [--inflight=N,N...] "
        "[--channels=K] [--keys=N] [--no-pin] [--podcache=PATH]\n  defaults: 2 s per cell after "
        "0.5 s warm-up, 3 rounds, inflight 1,64,256, 4 channels, %d keys (--quick: 1 s, 1 round, "
        "1,64, 2000 keys), %s\n",
        kKeys, PODCACHE_BINARY);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows when piped into tee
  signal(SIGPIPE, SIG_IGN);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) signal(sig, RemoveCertsAndDie);
  return Run(o);
}

}  // namespace
}  // namespace podcache::bench

int main(int argc, char** argv) { return podcache::bench::Main(argc, argv); }
