#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "podcache/v1/cache.grpc.pb.h"
#include "sidecar/keyspace_registry.h"

namespace podcache {

// podcache.v1.Cache on gRPC's callback API: no thread waits for a load; each call is completed
// from the group's callback (a loader, peer or scheduler thread). Validation errors and hits
// complete on the gRPC thread that received the call. Thread-safe.
class CacheService final : public v1::Cache::CallbackService {
 public:
  // `keyspaces` and `metrics` must outlive the service. `token`: when not empty, every call needs
  // the metadata "authorization: Bearer <token>".
  CacheService(const KeyspaceMap* keyspaces, ApiMetrics* metrics, std::string token);

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const v1::GetRequest* request,
                                v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* GetMany(grpc::CallbackServerContext* ctx,
                                    const v1::GetManyRequest* request,
                                    v1::GetManyResponse* response) override;
  grpc::ServerUnaryReactor* Set(grpc::CallbackServerContext* ctx, const v1::SetRequest* request,
                                v1::SetResponse* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override;
  grpc::ServerUnaryReactor* InvalidateKeyspace(grpc::CallbackServerContext* ctx,
                                               const v1::InvalidateKeyspaceRequest* request,
                                               v1::InvalidateKeyspaceResponse* response) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* ctx,
                                  const v1::StatsRequest* request,
                                  v1::StatsResponse* response) override;

  // From now on every new call is answered UNAVAILABLE ("shutting down"), while the calls in
  // flight go on. Shutdown drains this way before it stops the gRPC server, so an app always gets
  // that clear status instead of whatever a closing server gives.
  void StartDraining() { draining_.store(true); }
  // Calls started and not yet finished.
  int64_t inflight() const { return inflight_.load(); }

 private:
  // Finishes one call and records its status and duration.
  struct Finisher {
    grpc::ServerUnaryReactor* reactor;
    CallMetrics* metrics;
    std::chrono::steady_clock::time_point start;
    std::atomic<int64_t>* inflight;
    void operator()(const Status& status) const;
  };
  // Starts a call: checks the token and looks up `keyspace` (unless it is null). When either
  // fails, finishes the call and returns null; else returns the keyspace (or a dummy non-null
  // pointer when `keyspace` is null).
  const Keyspace* Begin(grpc::CallbackServerContext* ctx, ApiMethod method,
                        const std::string* keyspace, Finisher* finish);

  const KeyspaceMap* keyspaces_;
  ApiMetrics* metrics_;
  const std::string expected_auth_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> inflight_{0};
};

// Fills a StatsResponse entry from a keyspace's stats.
void FillKeyspaceStats(const std::string& name, const KeyspaceStats& s, v1::KeyspaceStats* out);

}  // namespace podcache
