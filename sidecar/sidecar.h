#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "core/scheduler.h"
#include "sidecar/config.h"
#include "sidecar/keyspace_registry.h"

namespace grpc {
class Server;
}

namespace podcache {

class CacheService;
class HttpServer;

// The podcache process without main(): keyspaces, the app API (gRPC callback server with health
// and reflection), the HTTP port and the reaper. Owns every thread it starts.
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
  // Readiness false and health NOT_SERVING at once; then no new calls are accepted and calls in
  // flight get up to shutdown_grace to finish before they are cancelled. Idempotent.
  void Shutdown();

  bool ready() const { return ready_.load(); }
  const KeyspaceMap& keyspaces() const { return keyspaces_; }

 private:
  Status StartApi();

  const Config config_;
  ThreadScheduler scheduler_;
  KeyspaceMap keyspaces_;
  ApiMetrics api_metrics_;
  std::unique_ptr<CacheService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpServer> http_;
  std::atomic<bool> ready_{false};
  std::once_flag shutdown_once_;
};

}  // namespace podcache
