#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "podcache/v1/cache.grpc.pb.h"
#include "sidecar/keyspace_registry.h"
#include "transport/raw_call.h"

namespace podcache {

// What the app API accepts from a caller.
struct ApiLimits {
  std::string token;                      // when set, calls need "authorization: Bearer <token>"
  int max_keys_per_call = 10000;          // keys of one GetMany
  uint64_t max_message_bytes = 16 << 20;  // a GetMany response is kept within this
};

// Every method of podcache.v1.Cache on gRPC's callback API, taking raw bytes: podcache decodes
// each request itself, so a request gRPC could not decode (a keyspace that is not UTF-8, bytes
// that are not protobuf) gets INVALID_ARGUMENT with a message instead of gRPC's bare
// UNIMPLEMENTED.
using RawCacheService = v1::Cache::WithRawCallbackMethod_Get<
    v1::Cache::WithRawCallbackMethod_GetMany<v1::Cache::WithRawCallbackMethod_Set<
        v1::Cache::WithRawCallbackMethod_Delete<v1::Cache::WithRawCallbackMethod_InvalidateKeyspace<
            v1::Cache::WithRawCallbackMethod_Stats<v1::Cache::CallbackService>>>>>>;

// podcache.v1.Cache: no thread waits for a load; each call is completed from the group's callback
// (a loader, peer or scheduler thread). Validation errors and hits complete on the gRPC thread
// that received the call. Thread-safe.
class CacheService final : public RawCacheService {
 public:
  // `keyspaces` and `metrics` must outlive the service.
  CacheService(const KeyspaceMap* keyspaces, ApiMetrics* metrics, ApiLimits limits);

  using Reactor = grpc::ServerUnaryReactor;
  using Context = grpc::CallbackServerContext;
  Reactor* Get(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  Reactor* GetMany(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  Reactor* Set(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  Reactor* Delete(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  Reactor* InvalidateKeyspace(Context* ctx, const grpc::ByteBuffer* in,
                              grpc::ByteBuffer* out) override;
  Reactor* Stats(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;

  // From now on every new call is answered UNAVAILABLE ("shutting down"), while the calls in
  // flight go on. Shutdown drains this way before it stops the gRPC server, so an app always gets
  // that clear status instead of whatever a closing server gives.
  void StartDraining() { draining_.store(true); }
  // Calls started and not yet finished.
  int64_t inflight() const { return inflight_.load(); }

 private:
  // Finishes one call: serializes its response (when OK), records status and duration, frees the
  // call's messages. Copyable; run exactly once.
  struct Finisher {
    grpc::ServerUnaryReactor* reactor;
    CallMetrics* metrics;
    std::chrono::steady_clock::time_point start;
    std::atomic<int64_t>* inflight;
    void* call = nullptr;  // the call's request and response (a RawCall)
    grpc::Status (*complete)(void* call, const Status& status) = nullptr;
    void operator()(const Status& status) const;
  };
  // Completes a write (Set, Delete, InvalidateKeyspace): how far its propagation got into the
  // response, its status to the call.
  template <typename Response>
  static std::function<void(const WriteResult&)> AnswerWrite(Finisher finish, Response* response);
  // Starts a call: refuses it while draining or without the token, decodes the request into a new
  // RawCall and looks up its keyspace (when `needs_keyspace`, or when one is named). When any step
  // fails, finishes the call and returns null.
  template <typename Req, typename Resp>
  RawCall<Req, Resp>* Begin(Context* ctx, ApiMethod method, const grpc::ByteBuffer* in,
                            grpc::ByteBuffer* out, bool needs_keyspace, Finisher* finish,
                            const Keyspace** keyspace);
  bool Authorized(const Context& ctx) const;

  const KeyspaceMap* keyspaces_;
  ApiMetrics* metrics_;
  const ApiLimits limits_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> inflight_{0};
};

// Fills a StatsResponse entry from a keyspace's stats.
void FillKeyspaceStats(const std::string& name, const KeyspaceStats& s, v1::KeyspaceStats* out);

// True when `header` is "Bearer <token>": the scheme in any case (RFC 7235), one or more spaces,
// then exactly `token` (compared in constant time).
bool BearerMatches(std::string_view header, std::string_view token);

}  // namespace podcache
