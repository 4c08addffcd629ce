// The real side of podcache_peer_bench: certificates from the openssl CLI, two podcache processes
// with mTLS between them, the keys that one of them owns, and the other's counters.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bench/api/peer_bench.h"
#include "bench/bench_util.h"
#include "bench/memcached_process.h"

namespace podcache::bench {
namespace {

auto Deadline() { return std::chrono::system_clock::now() + std::chrono::seconds(10); }

// The body of GET http://127.0.0.1:<port><path>, or "" on any failure. Reads until the server
// closes or Content-Length bytes arrived, whichever comes first.
std::string HttpBody(int port, const std::string& path) {
  int fd = Connect(port);
  if (fd < 0) return "";
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", reply;
  bool sent = SendAll(fd, request, &reply);
  size_t header_end = std::string::npos, want = std::string::npos;
  while (sent && (want == std::string::npos || reply.size() < want)) {
    pollfd p{fd, POLLIN, 0};
    char buf[16384];
    ssize_t n = poll(&p, 1, 10'000) == 1 ? recv(fd, buf, sizeof(buf), 0) : -1;
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
    if (header_end == std::string::npos &&
        (header_end = reply.find("\r\n\r\n")) != std::string::npos) {
      size_t length = reply.find("Content-Length: ");
      if (length == std::string::npos) length = reply.find("content-length: ");
      if (length != std::string::npos && length < header_end) {
        want = header_end + 4 + std::strtoul(reply.c_str() + length + 16, nullptr, 10);
      }
    }
  }
  close(fd);
  if (header_end == std::string::npos || !reply.starts_with("HTTP/1.1 200")) return "";
  return reply.substr(header_end + 4);
}

// The sum of every sample of a Prometheus counter family (all label sets).
uint64_t SumMetric(const std::string& text, const std::string& family) {
  uint64_t sum = 0;
  for (size_t pos = 0; (pos = text.find("\n" + family, pos)) != std::string::npos;) {
    pos += family.size() + 1;
    if (pos < text.size() && text[pos] != '{' && text[pos] != ' ') continue;  // a longer name
    size_t space = text.find(' ', text[pos] == '{' ? text.find('}', pos) : pos);
    if (space != std::string::npos) sum += std::strtoull(text.c_str() + space + 1, nullptr, 10);
  }
  return sum;
}

}  // namespace

TestCertificates::~TestCertificates() {
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::string TestCertificates::Make() {
  char dir[] = "/tmp/podcache_peer_bench.XXXXXX";
  if (mkdtemp(dir) == nullptr) return "mkdtemp /tmp failed";
  dir_ = dir;
  // The extensions podcache's verifier and gRPC's hostname check need (scripts/gen-certs.sh).
  std::ofstream(dir_ + "/peer.ext") << "subjectAltName=DNS:" << kPeerName
                                    << "\nextendedKeyUsage=serverAuth,clientAuth\n"
                                       "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n";
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  std::vector<std::string> commands = {
      "openssl req -x509" + ec +
      " -keyout ca.key -out ca.crt -days 30 -subj '/CN=podcache bench CA'"
      " -addext 'basicConstraints=critical,CA:TRUE' -addext "
      "'keyUsage=critical,keyCertSign,cRLSign'"};
  for (const char* name : {"a", "b"}) {
    commands.push_back(Format("openssl req -new%s -keyout %s.key -out %s.csr -subj /CN=node-%s",
                              ec.c_str(), name, name, name));
    commands.push_back(
        Format("openssl x509 -req -in %s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30"
               " -extfile peer.ext -out %s.crt",
               name, name));
  }
  for (const std::string& command : commands) {
    if (std::system(("cd " + dir_ + " && " + command + " >/dev/null 2>&1").c_str()) != 0) {
      return "failed: " + command;
    }
  }
  return "";
}

TlsFiles TestCertificates::Files(const std::string& name) const {
  return TlsFiles{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key", dir_ + "/ca.crt",
                  kPeerName};
}

uint64_t NodeCounters::Get(const std::string& name) const {
  auto it = counters.find(name);
  return it == counters.end() ? 0 : it->second;
}

NodeCounters NodeCounters::Minus(const NodeCounters& before) const {
  NodeCounters d = *this;
  for (auto& [name, value] : d.counters) value -= before.Get(name);
  d.main_hits -= before.main_hits;
  d.hot_hits -= before.hot_hits;
  d.peer_batches -= before.peer_batches;
  d.peer_batched_keys -= before.peer_batched_keys;
  if (d.error.empty()) d.error = before.error;
  return d;
}

std::string PeerCluster::Start(const std::string& binary, const TestCertificates& certs, int cpu) {
  std::string peer[2];
  for (int i = 0; i < 2; ++i) {
    api_[i] = Format("127.0.0.1:%d", FreePort());
    peer[i] = Format("127.0.0.1:%d", FreePort());
    http_port_[i] = FreePort();
  }
  for (int i = 0; i < 2; ++i) {
    TlsFiles tls = certs.Files(i == 0 ? "a" : "b");
    // hot_share=0 leaves no room for hot copies and the promotion threshold is above what the
    // tracker's 8-bit counters can reach: a remote key is never served from a local copy.
    std::vector<std::string> argv = {
        binary,
        std::string("--keyspace=") + kKeyspace +
            ":max_bytes=256MiB,loader=none,hot_share=0,hot_promote_hits=1000000",
        "--api-listen=" + api_[i],
        "--peer-listen=" + peer[i],
        "--advertise=" + peer[i],
        Format("--http-listen=127.0.0.1:%d", http_port_[i]),
        "--discovery=static",
        "--peers=" + peer[0] + "," + peer[1],
        "--tls-cert=" + tls.cert,
        "--tls-key=" + tls.key,
        "--tls-ca=" + tls.ca,
        std::string("--tls-peer-name=") + kPeerName,
        "--log-level=warn"};
    int port = http_port_[i];
    if (!nodes_[i].Start(argv, cpu) ||
        !WaitUntil(&nodes_[i], 15, [port] { return HttpOk(port, "/readyz"); })) {
      std::string command;
      for (const std::string& arg : argv) command += " " + arg;
      return "podcache did not become ready; try it by hand:" + command;
    }
  }
  return "";
}

std::string PeerCluster::PickRemoteKeys(int count, size_t value_size,
                                        std::vector<std::string>* keys) {
  auto via_a = v1::Cache::NewStub(grpc::CreateChannel(api_[0], grpc::InsecureChannelCredentials()));
  auto via_b = v1::Cache::NewStub(grpc::CreateChannel(api_[1], grpc::InsecureChannelCredentials()));
  constexpr int kThreads = 16, kChunk = 4096;
  const std::string value(value_size, 'v');
  std::string error;
  // With two members b owns about half of the keys; give up well past that.
  for (int first = 0; static_cast<int>(keys->size()) < count && error.empty(); first += kChunk) {
    if (first > count * 8)
      return Format("only %zu of %d candidates are owned by b", keys->size(), first);
    std::vector<char> remote(kChunk, 0);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = t; i < kChunk && errors[t].empty(); i += kThreads) {
          std::string key = Format("r%04zu:%010d", value_size, first + i);  // 16 bytes
          grpc::ClientContext set_ctx, get_ctx;
          set_ctx.set_deadline(Deadline());
          get_ctx.set_deadline(Deadline());
          v1::SetRequest set;
          set.set_keyspace(kKeyspace);
          set.set_key(key);
          set.set_value(value);
          set.set_ttl_ms(0);
          v1::SetResponse set_reply;
          v1::GetRequest get;
          get.set_keyspace(kKeyspace);
          get.set_key(key);
          v1::GetResponse got;
          if (grpc::Status s = via_b->Set(&set_ctx, set, &set_reply); !s.ok()) {
            errors[t] = "Set through b: " + s.error_message();
          } else if (s = via_a->Get(&get_ctx, get, &got); !s.ok()) {
            errors[t] = "Get through a: " + s.error_message();
          } else if (got.value() != value) {
            errors[t] = "Get through a returned another value";
          } else {
            remote[i] = got.source() == v1::SOURCE_PEER;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const std::string& e : errors) error = error.empty() ? e : error;
    for (int i = 0; i < kChunk && static_cast<int>(keys->size()) < count; ++i) {
      if (remote[i]) keys->push_back(Format("r%04zu:%010d", value_size, first + i));
    }
  }
  return error;
}

NodeCounters PeerCluster::CountersOfA() {
  NodeCounters c;
  auto stub = v1::Cache::NewStub(grpc::CreateChannel(api_[0], grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  v1::StatsRequest request;
  request.set_keyspace(kKeyspace);
  v1::StatsResponse response;
  if (grpc::Status s = stub->Stats(&ctx, request, &response); !s.ok()) {
    c.error = "Stats: " + s.error_message();
  } else if (response.keyspaces_size() != 1) {
    c.error = "Stats: no keyspace " + std::string(kKeyspace);
  } else {
    const v1::KeyspaceStats& ks = response.keyspaces(0);
    c.counters.insert(ks.counters().begin(), ks.counters().end());
    c.main_hits = ks.main().hits();
    c.hot_hits = ks.hot().hits();
    c.hot_items = ks.hot().items();
  }
  std::string metrics = HttpBody(http_port_[0], "/metrics");
  if (metrics.empty() && c.error.empty()) c.error = "cannot read /metrics";
  c.peer_batches = SumMetric(metrics, "podcache_peer_batches_total");
  c.peer_batched_keys = SumMetric(metrics, "podcache_peer_batched_keys_total");
  return c;
}

void PeerCluster::Stop() {
  for (ChildProcess& node : nodes_) node.Stop();
}

}  // namespace podcache::bench
