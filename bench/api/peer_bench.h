#pragma once

// The pieces of podcache_peer_bench (peer_main.cc: the report): the certificates and the two-node
// podcache cluster (peer_cluster.cc), and the mTLS echo server and the proxy of the two-hop model
// (peer_servers.cc), which run as hidden modes of the bench binary.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/api/api_bench.h"
#include "transport/tls.h"
#include "transport/tls_reloader.h"

namespace podcache::bench {

// The DNS SAN of every certificate here, and podcache's default --tls-peer-name.
inline constexpr char kPeerName[] = "podcache-peer";
// Every file TestCertificates::Make() may leave in its directory (for removal from a signal
// handler, where only unlink and rmdir may be called).
inline constexpr const char* kCertFiles[] = {"ca.crt", "ca.key", "ca.srl", "peer.ext", "a.crt",
                                             "a.key",  "a.csr",  "b.crt",  "b.key",    "b.csr"};

// A CA and the peer certificates "a" and "b" (both TLS usages, SAN kPeerName), made with the
// openssl CLI in a fresh directory under /tmp the way scripts/gen-certs.sh makes them. The
// destructor removes the directory. Not thread-safe.
class TestCertificates {
 public:
  TestCertificates() = default;
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;
  ~TestCertificates();

  // "" on success, else the command that failed.
  std::string Make();
  // The files of certificate `name` ("a" or "b") with the CA. REQUIRES: Make() succeeded.
  TlsFiles Files(const std::string& name) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// The TLS material of `files` as podcache loads it, not reloaded (the benchmarks do not rotate
// certificates); exits with a message when the files are unusable.
std::shared_ptr<TlsReloader> LoadTls(const TlsFiles& files);

// The --serve-tls-echo child: podcache.v1.Cache/Get (for the one-hop echo) and
// podcache.peer.v1.Peer/Get (the proxy's upstream) answering `value_size` bytes, on `listen` with
// podcache's own peer server credentials (client certificate required, chain and SAN checked) and
// server settings. Runs until killed; 1 when it cannot listen.
int RunTlsEchoServer(size_t value_size, const std::string& listen, const TlsFiles& tls);

// The --serve-proxy child: podcache.v1.Cache/Get on plaintext `listen`, each call forwarded as one
// podcache.peer.v1.Peer/Get to `upstream` over mTLS (the channel set up as podcache's PeerPool sets
// up a peer's), with the callback API and no batching. Runs until killed; 1 when it cannot listen.
int RunProxyServer(const std::string& listen, const std::string& upstream, const TlsFiles& tls);

// A's view of one keyspace, from its Stats call (counters as named in Stats.counters).
struct NodeCounters {
  std::map<std::string, uint64_t> counters;
  uint64_t main_hits = 0, hot_hits = 0, hot_items = 0;
  uint64_t peer_batches = 0, peer_batched_keys = 0;  // podcache_peer_* from /metrics
  std::string error;                                 // why they could not be read, or ""

  uint64_t Get(const std::string& name) const;
  NodeCounters Minus(const NodeCounters& before) const;
};

// Two podcache processes on loopback, "a" and "b", with static discovery of each other, mTLS
// between them, and the keyspace kKeyspace cache-aside (loader=none) with hot copies disabled, so
// a Get through a of a key b owns always crosses the peer hop.
class PeerCluster {
 public:
  // "" once both answer /readyz, else what went wrong.
  std::string Start(const std::string& binary, const TestCertificates& certs, int cpu);
  // Finds `count` keys owned by b: stores candidates with Set through b (which sends each to its
  // owner) and keeps those that a then serves from SOURCE_PEER. Returns "" or the first error.
  std::string PickRemoteKeys(int count, size_t value_size, std::vector<std::string>* keys);
  NodeCounters CountersOfA();
  void Stop();

  const std::string& a_api() const { return api_[0]; }
  pid_t pid(int node) const { return nodes_[node].pid(); }

 private:
  ChildProcess nodes_[2];
  std::string api_[2];
  int http_port_[2] = {0, 0};
};

}  // namespace podcache::bench
