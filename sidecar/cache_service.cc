#include "sidecar/cache_service.h"

#include <atomic>

#include "core/clock.h"
#include "transport/grpc_util.h"
#include "transport/peer_client.h"

namespace podcache {
namespace {

v1::Source ToProto(ValueSource s) {
  switch (s) {
    case ValueSource::kMain:
      return v1::SOURCE_MAIN;
    case ValueSource::kHot:
      return v1::SOURCE_HOT;
    case ValueSource::kPeer:
      return v1::SOURCE_PEER;
    case ValueSource::kLoader:
      return v1::SOURCE_LOADER;
    case ValueSource::kNone:
      break;
  }
  return v1::SOURCE_UNSPECIFIED;
}

// Constant-time comparison, so the token cannot be guessed byte by byte from response times.
bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

void FillStore(const StoreStats& s, v1::StoreStats* out) {
  out->set_items(s.items);
  out->set_bytes(s.bytes);
  out->set_capacity_bytes(s.capacity);
  out->set_hits(s.hits);
  out->set_misses(s.misses);
  out->set_evictions(s.evictions);
  out->set_expirations(s.expirations);
}

}  // namespace

void CacheService::Finisher::operator()(const Status& status) const {
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  metrics->Record(status.code(), took.count());
  reactor->Finish(ToGrpcStatus(status));
  inflight->fetch_sub(1);
}

CacheService::CacheService(const KeyspaceMap* keyspaces, ApiMetrics* metrics, std::string token)
    : keyspaces_(keyspaces),
      metrics_(metrics),
      expected_auth_(token.empty() ? "" : "Bearer " + token) {}

const Keyspace* CacheService::Begin(grpc::CallbackServerContext* ctx, ApiMethod method,
                                    const std::string* keyspace, Finisher* finish) {
  *finish = {ctx->DefaultReactor(), &(*metrics_)[method], std::chrono::steady_clock::now(),
             &inflight_};
  inflight_.fetch_add(1);
  if (draining_.load()) {
    (*finish)(UnavailableError("podcache is shutting down"));
    return nullptr;
  }
  if (!expected_auth_.empty()) {
    auto it = ctx->client_metadata().find("authorization");
    if (it == ctx->client_metadata().end() ||
        !SameSecret(std::string_view(it->second.data(), it->second.size()), expected_auth_)) {
      (*finish)(Status(StatusCode::kUnauthenticated,
                       "this sidecar requires 'authorization: Bearer <api token>'"));
      return nullptr;
    }
  }
  static const Keyspace kNoKeyspace;
  if (keyspace == nullptr) return &kNoKeyspace;
  auto it = keyspaces_->find(*keyspace);
  if (it == keyspaces_->end()) {
    (*finish)(NotFoundError("keyspace \"" + *keyspace + "\" is not configured"));
    return nullptr;
  }
  return &it->second;
}

grpc::ServerUnaryReactor* CacheService::Get(grpc::CallbackServerContext* ctx,
                                            const v1::GetRequest* request,
                                            v1::GetResponse* response) {
  Finisher finish;
  const Keyspace* ks = Begin(ctx, ApiMethod::kGet, &request->keyspace(), &finish);
  if (ks == nullptr) return finish.reactor;
  GetOptions opts;
  opts.deadline = DeadlineOf(*ctx);
  ks->group->Get(request->key(), opts, [finish, response](const GetResult& r) {
    if (r.status.ok()) {
      response->set_value(r.value.value().data(), r.value.value().size());
      response->set_ttl_ms(r.remaining_ttl_ms);
      response->set_source(ToProto(r.source));
    }
    finish(r.status);
  });
  return finish.reactor;
}

grpc::ServerUnaryReactor* CacheService::GetMany(grpc::CallbackServerContext* ctx,
                                                const v1::GetManyRequest* request,
                                                v1::GetManyResponse* response) {
  Finisher finish;
  const Keyspace* ks = Begin(ctx, ApiMethod::kGetMany, &request->keyspace(), &finish);
  if (ks == nullptr) return finish.reactor;
  int n = request->keys_size();
  if (n == 0) {
    finish(OkStatus());
    return finish.reactor;
  }
  for (int i = 0; i < n; ++i) response->add_results()->set_key(request->keys(i));
  // Each key's callback fills its own result; the last one to finish completes the call.
  auto pending = std::make_shared<std::atomic<int>>(n);
  GetOptions opts;
  opts.deadline = DeadlineOf(*ctx);
  // The keys other nodes own leave as one batched call per owner, all owners in parallel.
  PeerGetBatch by_owner;
  for (int i = 0; i < n; ++i) {
    v1::KeyResult* result = response->mutable_results(i);
    ks->group->Get(request->keys(i), opts, [finish, result, pending](const GetResult& r) {
      result->set_code(static_cast<int>(r.status.code()));
      if (r.status.ok()) {
        result->set_value(r.value.value().data(), r.value.value().size());
        result->set_ttl_ms(r.remaining_ttl_ms);
        result->set_source(ToProto(r.source));
      } else {
        result->set_message(r.status.message());
      }
      if (pending->fetch_sub(1, std::memory_order_acq_rel) == 1) finish(OkStatus());
    });
  }
  return finish.reactor;
}

grpc::ServerUnaryReactor* CacheService::Set(grpc::CallbackServerContext* ctx,
                                            const v1::SetRequest* request, v1::SetResponse*) {
  Finisher finish;
  const Keyspace* ks = Begin(ctx, ApiMethod::kSet, &request->keyspace(), &finish);
  if (ks == nullptr) return finish.reactor;
  if (request->has_ttl_ms() && request->ttl_ms() < 0) {
    finish(InvalidArgumentError("ttl_ms must be >= 0 (0 = no expiry; leave it unset for the "
                                "keyspace default)"));
    return finish.reactor;
  }
  Millis ttl = request->has_ttl_ms() ? request->ttl_ms() : -1;
  WriteOptions opts;
  opts.deadline = DeadlineOf(*ctx);
  ks->group->Set(request->key(), request->value(), ttl, opts, finish);
  return finish.reactor;
}

grpc::ServerUnaryReactor* CacheService::Delete(grpc::CallbackServerContext* ctx,
                                               const v1::DeleteRequest* request,
                                               v1::DeleteResponse*) {
  Finisher finish;
  const Keyspace* ks = Begin(ctx, ApiMethod::kDelete, &request->keyspace(), &finish);
  if (ks == nullptr) return finish.reactor;
  WriteOptions opts;
  opts.deadline = DeadlineOf(*ctx);
  ks->group->Delete(request->key(), opts, finish);
  return finish.reactor;
}

grpc::ServerUnaryReactor* CacheService::InvalidateKeyspace(
    grpc::CallbackServerContext* ctx, const v1::InvalidateKeyspaceRequest* request,
    v1::InvalidateKeyspaceResponse* response) {
  Finisher finish;
  const Keyspace* ks = Begin(ctx, ApiMethod::kInvalidateKeyspace, &request->keyspace(), &finish);
  if (ks == nullptr) return finish.reactor;
  std::shared_ptr<Group> group = ks->group;
  group->Invalidate([finish, response, group](Status s) {
    response->set_generation(group->generation());
    finish(s);
  });
  return finish.reactor;
}

grpc::ServerUnaryReactor* CacheService::Stats(grpc::CallbackServerContext* ctx,
                                              const v1::StatsRequest* request,
                                              v1::StatsResponse* response) {
  Finisher finish;
  if (Begin(ctx, ApiMethod::kStats, request->keyspace().empty() ? nullptr : &request->keyspace(),
            &finish) == nullptr) {
    return finish.reactor;
  }
  for (const auto& [name, ks] : *keyspaces_) {
    if (!request->keyspace().empty() && name != request->keyspace()) continue;
    FillKeyspaceStats(name, ks.group->Stats(), response->add_keyspaces());
  }
  finish(OkStatus());
  return finish.reactor;
}

void FillKeyspaceStats(const std::string& name, const KeyspaceStats& s, v1::KeyspaceStats* out) {
  out->set_name(name);
  out->set_generation(s.generation);
  FillStore(s.main, out->mutable_main());
  FillStore(s.hot, out->mutable_hot());
  for (int c = 0; c < KeyspaceStats::kNumCounters; ++c) {
    auto counter = static_cast<KeyspaceStats::Counter>(c);
    (*out->mutable_counters())[KeyspaceCounterName(counter)] = s[counter];
  }
  out->set_loads_active(s.loads_active);
  out->set_loads_queued(s.loads_queued);
}

}  // namespace podcache
