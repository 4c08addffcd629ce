#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace podcache::bench {

// Just enough process and socket plumbing to run a memcached next to the benchmark and load it over
// its text protocol on 127.0.0.1.

// Path of an executable memcached (the usual locations, then $PATH), or "" when there is none.
std::string FindMemcached();

// A TCP port nobody is listening on right now, or -1. The kernel picks it; another process could
// take it before memcached binds it, which only makes memcached fail to start.
int FreePort();

// A blocking TCP connection to 127.0.0.1:port, or -1.
int Connect(int port);

// Sends all of `data`, reading (and appending to *replies) whatever the server sends meanwhile, so
// a server that answers (errors, despite noreply) can never deadlock us both on full socket
// buffers.
bool SendAll(int fd, std::string_view data, std::string* replies);

// Sends `request` and reads until the reply (appended to *replies) ends with `terminator`.
bool Roundtrip(int fd, std::string_view request, std::string_view terminator, std::string* replies);

// The value of "STAT <name> <value>" in a stats reply, or -1.
long long StatValue(const std::string& stats, const std::string& name);

// A server or tool run next to the benchmark, its stdout and stderr sent to /dev/null, pinned to a
// CPU between fork and exec when asked. Stop() or the destructor ends and reaps it; if the
// benchmark dies any other way (a signal, a crash) the child gets SIGKILL (PR_SET_PDEATHSIG), so no
// child outlives a run.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { Stop(); }

  // Forks and execs argv[0] (a path) with argv on `cpu` (-1: anywhere). False when fork failed
  // (exec failure shows as !Running()).
  bool Start(const std::vector<std::string>& argv, int cpu = -1);
  // Whether the child is still alive (reaps it when it has exited).
  bool Running();
  void Stop();  // SIGTERM, SIGKILL after 3 s, reap
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

}  // namespace podcache::bench
