// podcache_api_bench: the app API of the podcache binary against a bare gRPC echo server with the
// same threading model, and GetMany against redis-benchmark, in one run. A report, not a test: the
// exit code is 0 whenever it ran, whatever the FLOOR/GOAL verdicts. See bench/api/README.md.
//
//   podcache_api_bench [--quick] [--duration=S] [--inflight=N] [--channels=K] [--podcache=PATH]

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <tuple>

#include "bench/api/api_bench.h"
#include "bench/bench_util.h"
#include "bench/memcached_process.h"

namespace podcache::bench {
namespace {

struct Options {
  bool quick = false;
  double duration = 3;
  int inflight = 64;
  int channels = 4;
  std::string podcache = PODCACHE_BINARY;
};

constexpr size_t kValueSizes[] = {100, 1024};
constexpr int kKeysPerGetMany = 100;

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }
// Server CPU microseconds per call: what the server spends, whichever side limits the QPS.
double ServerUs(const LoadResult& r) {
  return r.server_cpu >= 0 ? Ratio(r.server_cpu * 1e6, r.qps) : 0;
}

void PrintRow(const char* target, size_t size, const LoadResult& r) {
  std::printf("%-14s %5zu B %9.0f %8.0f %8.0f %7.2f %7.2f %8.1f %7ld\n", target, size, r.qps,
              r.p50_us, r.p99_us, r.client_cpu, r.server_cpu, ServerUs(r), r.errors);
  if (!r.first_error.empty()) std::printf("  first error: %s\n", r.first_error.c_str());
}

// A unix socket path in /tmp, removed when done (not after SIGKILL).
struct SocketFile {
  explicit SocketFile(const char* name)
      : path(Format("/tmp/podcache_api_bench.%d.%s.sock", getpid(), name)) {}
  ~SocketFile() { unlink(path.c_str()); }
  const std::string path;
};

// Starts podcache on `api_listen` and stores the keys of every value size.
bool StartPodcache(const Options& o, const std::string& api_listen, int cpu, Child* child) {
  int http_port = FreePort();
  std::vector<std::string> argv = {o.podcache,
                                   "--keyspace",
                                   std::string(kKeyspace) + ":max_bytes=256MiB",
                                   "--api-listen",
                                   api_listen,
                                   "--http-listen",
                                   Format("127.0.0.1:%d", http_port),
                                   "--log-level",
                                   "warn"};
  if (!child->Start(argv, cpu) ||
      !WaitUntil(child, 15, [http_port] { return HttpOk(http_port, "/readyz"); })) {
    std::printf("podcache did not become ready; try by hand:");
    for (const auto& a : argv) std::printf(" '%s'", a.c_str());
    std::printf("\n");
    return false;
  }
  for (size_t size : kValueSizes) {
    if (std::string error = FillKeys(api_listen, size); !error.empty()) {
      std::printf("filling podcache at %s failed: %s\n", api_listen.c_str(), error.c_str());
      return false;
    }
  }
  return true;
}

int Run(const Options& o) {
  std::printf("podcache_api_bench%s: %u CPUs, %d calls in flight on %d channels, %.1f s per cell",
              o.quick ? " --quick" : "", std::thread::hardware_concurrency(), o.inflight,
              o.channels, o.duration);
#if defined(__OPTIMIZE__) && defined(NDEBUG)
  std::printf(", optimized\n");
#else
  std::printf("\nWARNING: not an optimized NDEBUG build: the figures mean nothing\n");
#endif
  // Before gRPC starts any thread: they inherit the CPU.
  std::vector<int> cpus = AllowedCpus();
  int client_cpu = -1, server_cpu = -1;
  if (cpus.size() >= 2 && PinToCpu(cpus[0])) {
    client_cpu = cpus[0];
    server_cpu = cpus[1];
    std::printf("pinned: load generator and redis-benchmark on CPU %d, servers on CPU %d\n",
                client_cpu, server_cpu);
  } else {
    std::printf("not pinned: only %zu CPU available, client and servers share it\n", cpus.size());
  }
  if (access(o.podcache.c_str(), X_OK) != 0) {
    std::printf("no podcache binary at %s: build target podcache or pass --podcache=PATH\n",
                o.podcache.c_str());
    return 1;
  }
  std::string self = "/proc/self/exe";  // the echo server is this program, re-executed
  char path[4096];
  if (ssize_t n = readlink("/proc/self/exe", path, sizeof(path)); n > 0 && n < 4096) {
    self.assign(path, static_cast<size_t>(n));
  }
  LoadOptions load;
  load.inflight = o.inflight;
  load.channels = o.channels;
  load.duration_seconds = o.duration;
  load.warmup_seconds = o.quick ? 0.3 : 0.5;
  auto run = [&load](const char* name, const std::string& target, const Child& server, size_t size,
                     int keys_per_call) {
    LoadOptions options = load;
    options.server_pid = server.pid();
    LoadResult r = RunClosedLoop(target, options, size, keys_per_call);
    if (keys_per_call == 1) PrintRow(name, size, r);
    return r;
  };
  BackgroundLoad background;
  Summary summary;
  Child tcp, uds;
  std::string tcp_target = Format("127.0.0.1:%d", FreePort());
  SocketFile socket("podcache");
  if (!StartPodcache(o, tcp_target, server_cpu, &tcp) ||
      !StartPodcache(o, "unix:" + socket.path, server_cpu, &uds)) {
    return 1;
  }

  std::printf("\n== Get, all hits (%d keys per value size, cycled) ==\n", kKeys);
  std::printf("%-14s %7s %9s %8s %8s %7s %7s %8s %7s\n", "target", "value", "QPS", "p50 µs",
              "p99 µs", "cliCPU", "srvCPU", "srvµs/call", "errors");
  struct Cell {
    LoadResult echo_tcp, echo_uds, tcp, uds;
  };
  std::vector<Cell> cells;
  for (size_t size : kValueSizes) {
    Cell c;
    {  // one echo process serves both transports, as the two podcache processes do
      SocketFile echo_socket(size == 100 ? "echo100" : "echo1024");
      Child echo;
      int port = FreePort();
      std::string listen = Format("127.0.0.1:%d", port);
      if (!echo.Start({self, "--serve-echo", "--listen=" + listen,
                       "--listen=unix:" + echo_socket.path, Format("--value-size=%zu", size)},
                      server_cpu) ||
          !WaitUntil(&echo, 10, [port] {
            int fd = Connect(port);
            return fd >= 0 && close(fd) == 0;
          })) {
        std::printf("the echo server did not start on %s\n", listen.c_str());
        return 1;
      }
      c.echo_tcp = run("echo tcp", listen, echo, size, 1);
      c.echo_uds = run("echo unix", "unix:" + echo_socket.path, echo, size, 1);
    }
    c.tcp = run("podcache tcp", tcp_target, tcp, size, 1);
    c.uds = run("podcache unix", "unix:" + socket.path, uds, size, 1);
    cells.push_back(c);
  }
  std::printf(
      "(cliCPU, srvCPU: CPUs busy in the load generator and in the server; srvµs/call: "
      "server CPU time per call)\n\n");
  for (size_t i = 0; i < cells.size(); ++i) {
    const Cell& c = cells[i];
    for (auto [name, pc, echo] :
         {std::tuple{"tcp ", &c.tcp, &c.echo_tcp}, std::tuple{"unix", &c.uds, &c.echo_uds}}) {
      std::printf("ratio podcache/echo %s %5zu B: QPS %.2fx  p99 %.2fx  srvµs/call %.2fx\n", name,
                  kValueSizes[i], Ratio(pc->qps, echo->qps), Ratio(pc->p99_us, echo->p99_us),
                  Ratio(ServerUs(*pc), ServerUs(*echo)));
    }
  }
  struct Bound {
    const char* kind;
    double qps, p99;
  };
  for (Bound b : {Bound{"FLOOR", 0.85, 1.3}, Bound{"GOAL", 0.95, 1.2}}) {
    for (size_t i = 0; i < cells.size(); ++i) {
      const LoadResult &pc = cells[i].tcp, &echo = cells[i].echo_tcp;
      bool valid = echo.errors == 0 && pc.errors == 0 && echo.calls > 0 && pc.calls > 0;
      double q = Ratio(pc.qps, echo.qps), p = Ratio(pc.p99_us, echo.p99_us);
      summary.Add(
          b.kind,
          Format("api get-hit qps >= %.2fx echo (%zu B, tcp: %.2fx)", b.qps, kValueSizes[i], q),
          valid && q >= b.qps);
      summary.Add(
          b.kind,
          Format("api get-hit p99 <= %.1fx echo (%zu B, tcp: %.2fx)", b.p99, kValueSizes[i], p),
          valid && p <= b.p99);
    }
  }

  std::printf("\n== GetMany, all hits (%d keys per call, 100 B values) vs redis-benchmark ==\n",
              kKeysPerGetMany);
  LoadResult m = run("", tcp_target, tcp, 100, kKeysPerGetMany);
  double keys_per_second = m.qps * kKeysPerGetMany;
  std::printf(
      "podcache tcp GetMany: %.0f keys/s (%.0f calls/s, p50 %.0f µs, p99 %.0f µs, "
      "cliCPU %.2f, srvCPU %.2f, errors %ld)\n",
      keys_per_second, m.qps, m.p50_us, m.p99_us, m.client_cpu, m.server_cpu, m.errors);
  if (!m.first_error.empty()) std::printf("  first error: %s\n", m.first_error.c_str());
  tcp.Stop();
  uds.Stop();
  RedisResult redis = RunRedisBaseline(o.quick ? 200'000 : 1'000'000, server_cpu, client_cpu);
  const std::string goal = "GetMany keys/s > redis-benchmark -P 16 GET/s";
  if (!redis.skipped.empty()) {
    std::printf("redis baseline skipped: %s\n", redis.skipped.c_str());
    summary.Skip("GOAL", goal, redis.skipped);
  } else {
    double r = Ratio(keys_per_second, redis.gets_per_second);
    std::printf("%s: %.0f GET/s (all hits)\n", redis.command.c_str(), redis.gets_per_second);
    std::printf("ratio podcache GetMany keys/s / redis GET/s: %.2fx\n", r);
    summary.Add("GOAL", goal + Format(" (%.2fx)", r), m.errors == 0 && r > 1);
  }
  summary.Note(background.Describe());
  summary.Print();
  return 0;
}

int Main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "--serve-echo") {  // hidden: the echo child
    std::vector<std::string> listen;
    size_t value_size = 100;
    for (int i = 2; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg.starts_with("--listen=")) listen.emplace_back(arg.substr(9));
      if (arg.starts_with("--value-size=")) value_size = std::strtoul(argv[i] + 13, nullptr, 10);
    }
    return RunEchoServer(listen, value_size);
  }
  Options o;
  bool duration_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--quick") {
      o.quick = true;
    } else if (arg.starts_with("--duration=")) {
      o.duration = std::strtod(argv[i] + 11, nullptr);
      duration_given = true;
    } else if (arg.starts_with("--inflight=")) {
      o.inflight = std::atoi(argv[i] + 11);
    } else if (arg.starts_with("--channels=")) {
      o.channels = std::atoi(argv[i] + 11);
    } else if (arg.starts_with("--podcache=")) {
      o.podcache = argv[i] + 11;
    } else {
      o.duration = -1;  // usage
    }
  }
  if (o.quick && !duration_given) o.duration = 1;
  if (o.duration <= 0 || o.inflight <= 0 || o.channels <= 0) {
    std::fprintf(stderr,
                 "usage: podcache_api_bench [--quick] [--duration=S] [--inflight=N] "
                 "[--channels=K] [--podcache=PATH]\n"
                 "  defaults: 3 s per cell after 0.5 s warm-up (--quick: 1 s), 64 calls in flight, "
                 "4 channels,\n  podcache at %s\n",
                 PODCACHE_BINARY);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows when piped into tee
  signal(SIGPIPE, SIG_IGN);
  return Run(o);
}

}  // namespace
}  // namespace podcache::bench

int main(int argc, char** argv) { return podcache::bench::Main(argc, argv); }
