#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "bench/api/api_bench.h"
#include "bench/bench_util.h"
#include "bench/memcached_process.h"

namespace podcache::bench {

std::vector<int> PinClient() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  for (int c = 0; sched_getaffinity(0, sizeof(set), &set) == 0 && c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  CPU_ZERO(&set);
  if (cpus.size() >= 2) CPU_SET(cpus[0], &set);
  if (cpus.size() < 2 || sched_setaffinity(0, sizeof(set), &set) != 0) return {};
  return {cpus[0], cpus[1]};
}

double CpuSecondsOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  size_t paren = stat.rfind(')');  // fields after "(comm)": utime and stime are 14 and 15
  unsigned long long utime = 0, stime = 0;
  if (paren == std::string::npos ||
      std::sscanf(stat.c_str() + paren + 1,
                  " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

bool HttpOk(int port, const std::string& path) {
  int fd = Connect(port);
  std::string reply;  // podcache's /readyz answers "ready\n" or "not ready\n"
  if (fd >= 0) Roundtrip(fd, "GET " + path + " HTTP/1.0\r\n\r\n", "ready\n", &reply);
  if (fd >= 0) close(fd);
  return reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200");
}

bool WaitUntil(ChildProcess* child, double timeout_seconds, const std::function<bool()>& ready) {
  for (double end = NowSeconds() + timeout_seconds; NowSeconds() < end && child->Running();) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

RedisResult RunRedisBaseline(long requests, int server_cpu) {
  RedisResult result;
  if (access("/usr/bin/redis-server", X_OK) != 0 || access("/usr/bin/redis-benchmark", X_OK) != 0) {
    result.skipped = "no /usr/bin/redis-server or /usr/bin/redis-benchmark";
    return result;
  }
  int port = FreePort();
  ChildProcess server;
  server.Start({"/usr/bin/redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no"},
               server_cpu);
  const std::string set =
      "*3\r\n$3\r\nSET\r\n$16\r\nkey:__rand_int__\r\n$100\r\n" + std::string(100, 'x') + "\r\n";
  if (!WaitUntil(&server, 10, [&] {
        int fd = Connect(port);
        std::string reply;
        bool ok = fd >= 0 && Roundtrip(fd, set, "\r\n", &reply) && reply == "+OK\r\n";
        if (fd >= 0) close(fd);
        return ok;
      })) {
    result.skipped = "redis-server did not start";
    return result;
  }
  result.command =
      Format("redis-benchmark -h 127.0.0.1 -p %d -P 16 -t get -n %ld -q -d 100", port, requests);
  std::string out;
  if (FILE* f = popen(("/usr/bin/" + result.command + " 2>/dev/null").c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) out.append(buf, n);
    pclose(f);
  }
  // -q prints progress lines ending in '\r', then "GET: 123456.78 requests per second, ...".
  size_t end = out.rfind(" requests per second");
  size_t begin = end == std::string::npos ? end : out.rfind("GET: ", end);
  if (begin == std::string::npos) {
    result.skipped = "no result in redis-benchmark's output '" + out.substr(0, 200) + "'";
  } else {
    result.gets_per_second = std::strtod(out.c_str() + begin + 5, nullptr);
  }
  return result;
}

}  // namespace podcache::bench
