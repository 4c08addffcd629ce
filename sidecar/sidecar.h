#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "core/scheduler.h"
#include "discovery/peer_source.h"
#include "sidecar/config.h"
#include "sidecar/http_server.h"
#include "sidecar/keyspace_registry.h"

namespace grpc {
class Server;
}

namespace podcache {

class CacheService;
class HttpServer;
class Membership;
class PeerPool;
class PeerService;
class Reaper;
struct TlsRejectionCounters;

// The podcache process without main(): keyspaces, the app API (gRPC callback server with health
// and reflection), the HTTP port and the reaper; in a cluster also the peer API (mTLS), the peer
// client pool, membership and the discovery source. Owns every thread it starts.
//
//   Sidecar s(config);
//   if (Status st = s.Start(); !st.ok()) ...;   // ready once this returns OK
//   ...
//   s.Shutdown();   // not ready at once, stop accepting, drain up to shutdown_grace, stop
//
// Start and Shutdown are called from one thread; everything else is thread-safe.
class Sidecar {
 public:
  explicit Sidecar(Config config);
  ~Sidecar();

  Status Start();
  // Readiness false and health NOT_SERVING at once; discovery stops; then no new calls are
  // accepted and calls in flight get up to shutdown_grace to finish before they are cancelled;
  // the peer port closes last, so peers' calls in flight finish too. Idempotent.
  void Shutdown();

  // Serving, and the discovery source has synced once and its first member set is in the ring
  // (a later outage does not matter).
  bool ready() const {
    return ready_.load() && (source_ == nullptr || (source_->Synced() && first_ring_.load()));
  }
  const KeyspaceMap& keyspaces() const { return keyspaces_; }

 private:
  Status StartCluster(GroupEnv* env);
  Status StartPeerApi();
  Status StartApi();
  HttpReply HandleHttp(const std::string& path) const;

  const Config config_;
  ThreadScheduler scheduler_;
  KeyspaceMap keyspaces_;
  ApiMetrics api_metrics_;
  std::unique_ptr<CacheService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Reaper> reaper_;  // destroyed before scheduler_ (declared after it)
  // The cluster; all null on a single node.
  std::shared_ptr<TlsRejectionCounters> tls_rejections_;
  std::unique_ptr<PeerPool> pool_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<PeerService> peer_service_;
  std::unique_ptr<grpc::Server> peer_server_;
  std::unique_ptr<PeerSource> source_;
  // The addresses bound, as the "listening" log line names them (port 0 replaced by the port
  // the kernel chose); set by StartPeerApi and StartApi.
  std::string peer_bound_;
  std::string api_bound_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> first_ring_{false};  // the source's first member set is published
  std::once_flag shutdown_once_;
};

}  // namespace podcache
