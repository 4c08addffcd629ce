#pragma once

// The pieces of podcache_api_bench (main.cc: the report and the echo server): child processes and
// the redis baseline (processes.cc), the closed-loop gRPC load generator (load.cc). The load
// generator and child processes also serve podcache_peer_bench (peer_bench.h).

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/memcached_process.h"
#include "podcache/v1/cache.grpc.pb.h"

namespace podcache::bench {

// Pins the calling thread, and the threads and processes it starts afterwards, to the first CPU
// this process may use. Returns {that CPU, the next one (for the servers)}, or {} when unpinned.
std::vector<int> PinClient();
double CpuSecondsOf(pid_t pid);  // user + system so far, or -1

// Whether GET http://127.0.0.1:<port><path> (podcache's /readyz) answers 200.
bool HttpOk(int port, const std::string& path);
// Polls `ready` every 20 ms: true once it holds, false when the child exited or the time is up.
bool WaitUntil(ChildProcess* child, double timeout_seconds, const std::function<bool()>& ready);

struct RedisResult {
  std::string skipped;  // why it did not run, or ""
  std::string command;
  double gets_per_second = 0;
};
// redis-server on `server_cpu` holding the key of redis-benchmark's GET test (100 bytes: every GET
// hits), then `redis-benchmark -P 16 -t get -n <requests> -q -d 100` on this process's CPU.
RedisResult RunRedisBaseline(long requests, int server_cpu);

inline constexpr char kKeyspace[] = "bench";
inline constexpr int kKeys = 10'000;  // stored per value size; the load cycles through them

// Sets the kKeys keys of `value_size`-byte values (no expiry): "" or the first error.
std::string FillKeys(const std::string& target, size_t value_size);

struct LoadOptions {
  int inflight = 64;  // closed loop: each completion starts the next call
  int channels = 4;   // distinct channel args, so separate connections; slot i uses i % channels
  double warmup_seconds = 0.5, duration_seconds = 3;
  long max_calls = 20'000'000;     // the window also ends after this many OK calls
  std::vector<pid_t> server_pids;  // each one's CPU use in the window is reported
  // Get these keys (cycled) instead of the kKeys keys FillKeys stored. Get only.
  std::vector<std::string> keys;
  // When set, a Get answered from another source counts as an error (e.g. SOURCE_PEER: every
  // call must have crossed the peer hop, none served from a local or hot copy).
  v1::Source expect_source = v1::SOURCE_UNSPECIFIED;
  // Null: plaintext. Otherwise TLS with these credentials, checking `tls_target_name`.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string tls_target_name;
};

struct LoadResult {
  long calls = 0;   // OK calls in the measured window
  long errors = 0;  // failed calls, warm-up included; a miss or a wrong value size is one
  std::string first_error;
  double seconds = 0, qps = 0, p50_us = 0, p99_us = 0;
  double client_cpu = 0;  // CPUs busy in the load generator during the window
  // CPUs busy in each of LoadOptions::server_pids (-1 = unknown), and their sum (-1 = none).
  std::vector<double> server_cpus;
  double server_cpu = -1;
};

// Get (keys_per_call == 1) or GetMany of keys_per_call consecutive keys of `value_size`, all hits,
// with the gRPC callback API (stub->async()), closed loop. A miss, a value of another size or
// (with expect_source) another source is an error.
LoadResult RunClosedLoop(const std::string& target, const LoadOptions& options, size_t value_size,
                         int keys_per_call);

}  // namespace podcache::bench
