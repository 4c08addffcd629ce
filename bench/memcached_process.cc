#include "bench/memcached_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace podcache::bench {

std::string FindMemcached() {
  for (const char* p : {"/usr/bin/memcached", "/usr/local/bin/memcached", "/usr/sbin/memcached"}) {
    if (access(p, X_OK) == 0) return p;
  }
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      std::string dir(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      std::string candidate = dir + "/memcached";
      if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "";
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data, std::string* replies) {
  while (!data.empty()) {
    pollfd p{fd, POLLIN | POLLOUT, 0};
    if (poll(&p, 1, 10'000) <= 0) return false;
    if (p.revents & POLLIN) {
      char buf[4096];
      ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (r == 0) return false;
      if (r > 0) replies->append(buf, static_cast<size_t>(r));
    }
    if (p.revents & (POLLERR | POLLHUP)) return false;
    if (p.revents & POLLOUT) {
      ssize_t w = send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      if (w > 0) data.remove_prefix(static_cast<size_t>(w));
    }
  }
  return true;
}

bool Roundtrip(int fd, std::string_view request, std::string_view terminator,
               std::string* replies) {
  if (!SendAll(fd, request, replies)) return false;
  while (!std::string_view(*replies).ends_with(terminator)) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10'000) <= 0) return false;
    char buf[4096];
    ssize_t r = recv(fd, buf, sizeof(buf), 0);
    if (r <= 0) return false;
    replies->append(buf, static_cast<size_t>(r));
  }
  return true;
}

long long StatValue(const std::string& stats, const std::string& name) {
  std::string needle = "STAT " + name + " ";
  size_t pos = stats.rfind(needle);
  if (pos == std::string::npos) return -1;
  return std::atoll(stats.c_str() + pos + needle.size());
}

bool ChildProcess::Start(const std::vector<std::string>& argv, int cpu) {
  // Prepared before fork: between fork and exec only async-signal-safe calls (gRPC has threads).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) CPU_SET(cpu, &set);
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (cpu >= 0) sched_setaffinity(0, sizeof(set), &set);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid_ > 0;
}

bool ChildProcess::Running() {
  if (pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
  return pid_ > 0;
}

void ChildProcess::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  bool reaped = false;
  for (int i = 0; i < 300 && !reaped; ++i) {
    reaped = waitpid(pid_, nullptr, WNOHANG) == pid_;
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!reaped) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
}

}  // namespace podcache::bench
