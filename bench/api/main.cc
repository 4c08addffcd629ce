// podcache_api_bench: the app API of the podcache binary against a bare gRPC echo server with the
// same threading model, and GetMany against redis-benchmark, in one run. A report, not a test: the
// exit code is 0 whenever it ran, whatever the FLOOR/GOAL verdicts. See bench/api/README.md.
//
//   podcache_api_bench [--quick] [--duration=S] [--inflight=N] [--channels=K] [--podcache=PATH]

#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <tuple>

#include "bench/api/api_bench.h"
#include "bench/api/echo_service.h"
#include "bench/bench_util.h"
#include "bench/memcached_process.h"

namespace podcache::bench {
namespace {

constexpr size_t kValueSizes[] = {100, 1024};
constexpr int kKeysPerGetMany = 100;

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }
// Server CPU µs per call: its cost whichever side limits the QPS.
double ServerUs(const LoadResult& r) { return Ratio(r.server_cpu * 1e6, r.qps); }

// Live unix socket paths, for RemoveSocketsAndDie. The children die by PR_SET_PDEATHSIG.
char g_sockets[4][128];

void RemoveSocketsAndDie(int sig) {
  for (const char* path : g_sockets) unlink(path);
  signal(sig, SIG_DFL);
  raise(sig);
}

// A unix socket path in /tmp, removed when done, also on SIGINT, SIGTERM and SIGHUP.
struct SocketFile {
  explicit SocketFile(int slot, const char* name)
      : path(Format("/tmp/podcache_api_bench.%d.%s.sock", getpid(), name)), slot(slot) {
    std::snprintf(g_sockets[slot], sizeof(g_sockets[slot]), "%s", path.c_str());
  }
  ~SocketFile() {
    unlink(path.c_str());
    g_sockets[slot][0] = '\0';
  }
  const std::string path;
  const int slot;
};

// The --serve-echo child: podcache.v1.Cache/Get with the gRPC callback API and podcache's server
// settings, answering every call with the same `value_size` bytes (no cache), on every address of
// `listen`, until killed. Returns 1 when it cannot listen.
int RunEchoServer(const std::vector<std::string>& listen, size_t value_size) {
  EchoService service(value_size);
  grpc::EnableDefaultHealthCheckService(true);  // as podcache (sidecar/sidecar.cc)
  grpc::ServerBuilder builder;
  for (const std::string& address : listen) {
    builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  }
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.SetMaxSendMessageSize(16 << 20);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    std::fprintf(stderr, "echo server: cannot listen\n");
    return 1;
  }
  server->Wait();  // until SIGTERM ends the process
  return 0;
}

// Starts podcache on `listen` and stores the keys of every value size.
bool StartPodcache(const std::string& binary, const std::string& listen, int cpu,
                   ChildProcess* child) {
  int http_port = FreePort();
  std::vector<std::string> argv = {binary,
                                   std::string("--keyspace=") + kKeyspace + ":max_bytes=256MiB",
                                   "--api-listen=" + listen, "--log-level=warn",
                                   Format("--http-listen=127.0.0.1:%d", http_port)};
  if (!child->Start(argv, cpu) ||
      !WaitUntil(child, 15, [http_port] { return HttpOk(http_port, "/readyz"); })) {
    std::printf("podcache did not become ready; try it by hand:");
    for (const std::string& arg : argv) std::printf(" %s", arg.c_str());
    std::printf("\n");
    return false;
  }
  std::string error;
  for (size_t size : kValueSizes) error += FillKeys(listen, size);
  if (!error.empty()) std::printf("filling podcache at %s: %s\n", listen.c_str(), error.c_str());
  return error.empty();
}

int Run(const std::string& podcache, bool quick, LoadOptions load) {
  std::printf("podcache_api_bench%s: %u CPUs, %d calls in flight on %d channels, %.1f s per cell",
              quick ? " --quick" : "", std::thread::hardware_concurrency(), load.inflight,
              load.channels, load.duration_seconds);
#if defined(__OPTIMIZE__) && defined(NDEBUG)
  std::printf(", optimized\n");
#else
  std::printf("\nWARNING: not an optimized NDEBUG build: the figures mean nothing\n");
#endif
  std::vector<int> cpus = PinClient();  // before gRPC starts threads: they inherit the CPU
  int server_cpu = cpus.empty() ? -1 : cpus[1];
  if (cpus.empty()) {
    std::printf("not pinned: only 1 CPU available, client and servers share it\n");
  } else {
    std::printf("pinned: load generator and redis-benchmark on CPU %d, servers on CPU %d\n",
                cpus[0], server_cpu);
  }
  if (access(podcache.c_str(), X_OK) != 0) {
    std::printf("no podcache binary at %s: build it or pass --podcache=PATH\n", podcache.c_str());
    return 1;
  }
  auto run = [&load](const char* name, const std::string& target, const ChildProcess& server,
                     size_t size, int keys_per_call) {
    LoadOptions options = load;
    options.server_pids = {server.pid()};
    LoadResult r = RunClosedLoop(target, options, size, keys_per_call);
    if (keys_per_call > 1) return r;
    std::printf("%-14s %5zu B %9.0f %8.0f %8.0f %7.2f %7.2f %8.1f %7ld\n", name, size, r.qps,
                r.p50_us, r.p99_us, r.client_cpu, r.server_cpu, ServerUs(r), r.errors);
    if (!r.first_error.empty()) std::printf("  first error: %s\n", r.first_error.c_str());
    return r;
  };
  BackgroundLoad background;
  Summary summary;
  ChildProcess tcp, uds;
  std::string tcp_target = Format("127.0.0.1:%d", FreePort());
  SocketFile socket(0, "podcache");
  std::string uds_target = "unix:" + socket.path;
  if (!StartPodcache(podcache, tcp_target, server_cpu, &tcp) ||
      !StartPodcache(podcache, uds_target, server_cpu, &uds)) {
    return 1;
  }

  std::printf("\n== Get, all hits (%d keys per value size, cycled) ==\n", kKeys);
  std::printf(
      "target           value       QPS   p50 µs   p99 µs  cliCPU  srvCPU srvµs/call errors\n");
  struct Cell {
    LoadResult echo_tcp, echo_uds, tcp, uds;
  };
  std::vector<Cell> cells;
  for (size_t size : kValueSizes) {
    Cell c;
    {  // one echo process serves both transports
      SocketFile echo_socket(1, size == 100 ? "echo100" : "echo1024");
      ChildProcess echo;
      int port = FreePort();
      std::string listen = Format("127.0.0.1:%d", port);
      if (!echo.Start({"/proc/self/exe", "--serve-echo", std::to_string(size), listen,
                       "unix:" + echo_socket.path},
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
    c.uds = run("podcache unix", uds_target, uds, size, 1);
    cells.push_back(c);
  }
  std::printf(
      "(cliCPU, srvCPU: CPUs busy in the load generator and the server process; "
      "srvµs/call: server CPU per call)\n\n");
  for (size_t i = 0; i < cells.size(); ++i) {
    const Cell& c = cells[i];
    for (auto [name, pc, echo] :
         {std::tuple{"tcp ", &c.tcp, &c.echo_tcp}, std::tuple{"unix", &c.uds, &c.echo_uds}}) {
      std::printf("ratio podcache/echo %s %5zu B: QPS %.2fx  p99 %.2fx  srvµs/call %.2fx\n", name,
                  kValueSizes[i], Ratio(pc->qps, echo->qps), Ratio(pc->p99_us, echo->p99_us),
                  Ratio(ServerUs(*pc), ServerUs(*echo)));
    }
  }
  for (auto [kind, qps, p99] : {std::tuple{"FLOOR", 0.85, 1.3}, std::tuple{"GOAL", 0.95, 1.2}}) {
    for (size_t i = 0; i < cells.size(); ++i) {
      const LoadResult &pc = cells[i].tcp, &echo = cells[i].echo_tcp;
      bool valid = echo.errors == 0 && pc.errors == 0 && echo.calls > 0 && pc.calls > 0;
      double q = Ratio(pc.qps, echo.qps), p = Ratio(pc.p99_us, echo.p99_us);
      size_t size = kValueSizes[i];
      summary.Add(kind, Format("api get-hit qps >= %.2fx echo (%zu B, tcp: %.2fx)", qps, size, q),
                  valid && q >= qps);
      summary.Add(kind, Format("api get-hit p99 <= %.1fx echo (%zu B, tcp: %.2fx)", p99, size, p),
                  valid && p <= p99);
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
  RedisResult redis = RunRedisBaseline(quick ? 200'000 : 1'000'000, server_cpu);
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
  if (argc >= 4 && std::string_view(argv[1]) == "--serve-echo") {  // hidden: SIZE ADDRESS...
    return RunEchoServer(std::vector<std::string>(argv + 3, argv + argc), std::stoul(argv[2]));
  }
  std::vector<std::string_view> args(argv + 1, argv + argc);
  auto value = [](std::string_view arg, std::string_view flag) {
    return std::string(arg.substr(flag.size()));
  };
  std::string podcache = PODCACHE_BINARY;
  bool quick = false, duration_given = false, bad = false;
  LoadOptions load;
  for (std::string_view arg : args) {
    if (arg == "--quick") {
      quick = true;
    } else if (arg.starts_with("--duration=")) {
      load.duration_seconds = std::atof(value(arg, "--duration=").c_str());
      duration_given = true;
    } else if (arg.starts_with("--inflight=")) {
      load.inflight = std::atoi(value(arg, "--inflight=").c_str());
    } else if (arg.starts_with("--channels=")) {
      load.channels = std::atoi(value(arg, "--channels=").c_str());
    } else if (arg.starts_with("--podcache=")) {
      podcache = value(arg, "--podcache=");
    } else {
      bad = true;
    }
  }
  if (quick && !duration_given) load.duration_seconds = 1;
  if (quick) load.warmup_seconds = 0.3;
  if (bad || load.duration_seconds <= 0 || load.inflight <= 0 || load.channels <= 0) {
    std::fprintf(stderr,
                 "usage: podcache_api_bench [--quick] [--duration=S] [--inflight=N] "
                 "[--channels=K] [--podcache=PATH]\n  defaults: 3 s per cell after 0.5 s "
                 "warm-up (--quick: 1 s), 64 in flight, 4 channels, %s\n",
                 PODCACHE_BINARY);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows when piped into tee
  signal(SIGPIPE, SIG_IGN);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) signal(sig, RemoveSocketsAndDie);
  return Run(podcache, quick, load);
}

}  // namespace
}  // namespace podcache::bench

int main(int argc, char** argv) { return podcache::bench::Main(argc, argv); }
