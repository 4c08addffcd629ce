#include "sidecar/cache_service.h"

#include <atomic>
#include <cctype>
#include <memory>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "transport/grpc_util.h"
#include "transport/raw_call.h"
#include "transport/response_budget.h"

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
    case ValueSource::kStale:
      return v1::SOURCE_STALE;
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
  grpc::Status result = complete != nullptr ? complete(call, status) : ToGrpcStatus(status);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  metrics->Record(static_cast<StatusCode>(result.error_code()), took.count());
  reactor->Finish(result);
  inflight->fetch_sub(1);
}

CacheService::CacheService(const KeyspaceMap* keyspaces, ApiMetrics* metrics, ApiLimits limits)
    : keyspaces_(keyspaces), metrics_(metrics), limits_(std::move(limits)) {}

bool BearerMatches(std::string_view header, std::string_view token) {
  static constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size() || header[kScheme.size()] != ' ') return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return false;
  }
  std::string_view credentials = header.substr(kScheme.size());
  while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
  return SameSecret(credentials, token);
}

bool CacheService::Authorized(const Context& ctx) const {
  if (limits_.token.empty()) return true;
  auto it = ctx.client_metadata().find("authorization");
  return it != ctx.client_metadata().end() &&
         BearerMatches(std::string_view(it->second.data(), it->second.size()), limits_.token);
}

template <typename Req, typename Resp>
RawCall<Req, Resp>* CacheService::Begin(Context* ctx, ApiMethod method, const grpc::ByteBuffer* in,
                                        grpc::ByteBuffer* out, bool needs_keyspace,
                                        Finisher* finish, const Keyspace** keyspace) {
  *finish = {ctx->DefaultReactor(), &(*metrics_)[method], std::chrono::steady_clock::now(),
             &inflight_};
  inflight_.fetch_add(1);
  if (draining_.load()) {
    (*finish)(UnavailableError("podcache is shutting down"));
    return nullptr;
  }
  if (!Authorized(*ctx)) {
    (*finish)(Status(StatusCode::kUnauthenticated,
                     "this sidecar requires 'authorization: Bearer <api token>'"));
    return nullptr;
  }
  Status error;
  std::unique_ptr<RawCall<Req, Resp>> call = RawCall<Req, Resp>::Decode(in, out, &error);
  if (call == nullptr) {
    (*finish)(error);
    return nullptr;
  }
  const std::string& name = call->request.keyspace();
  if (needs_keyspace || !name.empty()) {
    auto it = keyspaces_->find(name);
    if (it == keyspaces_->end()) {
      (*finish)(IsValidKeyspaceName(name)
                    ? NotFoundError("keyspace \"" + name + "\" is not configured")
                    : InvalidArgumentError("a keyspace name is 1-64 characters of [A-Za-z0-9_.-]"));
      return nullptr;
    }
    *keyspace = &it->second;
  }
  finish->call = call.get();
  finish->complete = &RawCall<Req, Resp>::Complete;
  return call.release();
}

grpc::ServerUnaryReactor* CacheService::Get(Context* ctx, const grpc::ByteBuffer* in,
                                            grpc::ByteBuffer* out) {
  Finisher finish;
  const Keyspace* ks = nullptr;
  auto* call =
      Begin<v1::GetRequest, v1::GetResponse>(ctx, ApiMethod::kGet, in, out, true, &finish, &ks);
  if (call == nullptr) return finish.reactor;
  GetOptions opts;
  opts.deadline = DeadlineOf(*ctx);
  v1::GetResponse* response = &call->response;
  ks->group->Get(call->request.key(), opts, [finish, response](const GetResult& r) {
    if (r.status.ok()) {
      response->set_value(r.value.value().data(), r.value.value().size());
      response->set_ttl_ms(r.remaining_ttl_ms);
      response->set_source(ToProto(r.source));
    }
    finish(r.status);
  });
  return finish.reactor;
}

grpc::ServerUnaryReactor* CacheService::GetMany(Context* ctx, const grpc::ByteBuffer* in,
                                                grpc::ByteBuffer* out) {
  Finisher finish;
  const Keyspace* ks = nullptr;
  auto* call = Begin<v1::GetManyRequest, v1::GetManyResponse>(ctx, ApiMethod::kGetMany, in, out,
                                                              true, &finish, &ks);
  if (call == nullptr) return finish.reactor;
  const v1::GetManyRequest& request = call->request;
  int n = request.keys_size();
  // Both limits are checked before any lookup: the cost of a call is bounded by its size.
  if (n > limits_.max_keys_per_call) {
    finish(ResourceExhaustedError("GetMany of " + std::to_string(n) +
                                  " keys: at most max_keys_per_call=" +
                                  std::to_string(limits_.max_keys_per_call) + " per call"));
    return finish.reactor;
  }
  auto budget = std::make_shared<ResponseBudget>(limits_.max_message_bytes);
  for (int i = 0; i < n; ++i) {
    if (!budget->Reserve(request.keys(i).size())) {
      finish(ResourceExhaustedError("GetMany of " + std::to_string(n) +
                                    " keys: their results cannot fit in max_message_bytes=" +
                                    std::to_string(limits_.max_message_bytes)));
      return finish.reactor;
    }
  }
  if (n == 0) {
    finish(OkStatus());
    return finish.reactor;
  }
  v1::GetManyResponse* response = &call->response;
  response->mutable_results()->Reserve(n);
  for (int i = 0; i < n; ++i) response->add_results()->set_key(request.keys(i));
  std::vector<std::string_view> keys(request.keys().begin(), request.keys().end());
  GetOptions opts;
  opts.deadline = DeadlineOf(*ctx);
  // Each key's callback fills its own result; the keys other nodes own leave as one batched call
  // per owner, all owners in parallel (Group::GetMany).
  ks->group->GetMany(
      keys, opts,
      [response, budget](size_t i, const GetResult& r) {
        v1::KeyResult* result = response->mutable_results(static_cast<int>(i));
        if (!budget->ChargeInto(r.status, r.status.ok() ? r.value.value().size() : 0, result)) {
          return;
        }
        result->set_value(r.value.value().data(), r.value.value().size());
        result->set_ttl_ms(r.remaining_ttl_ms);
        result->set_source(ToProto(r.source));
      },
      [finish] { finish(OkStatus()); });
  return finish.reactor;
}

template <typename Response>
std::function<void(const WriteResult&)> CacheService::AnswerWrite(Finisher finish,
                                                                  Response* response) {
  return [finish, response](const WriteResult& r) {
    response->set_members_acked(r.members_acked);
    response->set_members_pending(r.members_pending);
    finish(r.status);
  };
}

grpc::ServerUnaryReactor* CacheService::Set(Context* ctx, const grpc::ByteBuffer* in,
                                            grpc::ByteBuffer* out) {
  Finisher finish;
  const Keyspace* ks = nullptr;
  auto* call =
      Begin<v1::SetRequest, v1::SetResponse>(ctx, ApiMethod::kSet, in, out, true, &finish, &ks);
  if (call == nullptr) return finish.reactor;
  const v1::SetRequest& request = call->request;
  if (request.has_ttl_ms() && request.ttl_ms() < 0) {
    finish(
        InvalidArgumentError("ttl_ms must be >= 0 (0 = no expiry; leave it unset for the "
                             "keyspace default)"));
    return finish.reactor;
  }
  Millis ttl = request.has_ttl_ms() ? request.ttl_ms() : -1;
  WriteOptions opts;
  opts.deadline = DeadlineOf(*ctx);
  v1::SetResponse* response = &call->response;
  ks->group->Set(request.key(), request.value(), ttl, opts, AnswerWrite(finish, response));
  return finish.reactor;
}

grpc::ServerUnaryReactor* CacheService::Delete(Context* ctx, const grpc::ByteBuffer* in,
                                               grpc::ByteBuffer* out) {
  Finisher finish;
  const Keyspace* ks = nullptr;
  auto* call = Begin<v1::DeleteRequest, v1::DeleteResponse>(ctx, ApiMethod::kDelete, in, out, true,
                                                            &finish, &ks);
  if (call == nullptr) return finish.reactor;
  WriteOptions opts;
  opts.deadline = DeadlineOf(*ctx);
  v1::DeleteResponse* response = &call->response;
  ks->group->Delete(call->request.key(), opts, AnswerWrite(finish, response));
  return finish.reactor;
}

grpc::ServerUnaryReactor* CacheService::InvalidateKeyspace(Context* ctx, const grpc::ByteBuffer* in,
                                                           grpc::ByteBuffer* out) {
  Finisher finish;
  const Keyspace* ks = nullptr;
  auto* call = Begin<v1::InvalidateKeyspaceRequest, v1::InvalidateKeyspaceResponse>(
      ctx, ApiMethod::kInvalidateKeyspace, in, out, true, &finish, &ks);
  if (call == nullptr) return finish.reactor;
  std::shared_ptr<Group> group = ks->group;
  v1::InvalidateKeyspaceResponse* response = &call->response;
  group->Invalidate(
      [answer = AnswerWrite(finish, response), response, group](const WriteResult& r) {
        response->set_generation(group->generation());
        answer(r);
      });
  return finish.reactor;
}

grpc::ServerUnaryReactor* CacheService::Stats(Context* ctx, const grpc::ByteBuffer* in,
                                              grpc::ByteBuffer* out) {
  Finisher finish;
  const Keyspace* ks = nullptr;
  auto* call = Begin<v1::StatsRequest, v1::StatsResponse>(ctx, ApiMethod::kStats, in, out, false,
                                                          &finish, &ks);
  if (call == nullptr) return finish.reactor;
  const std::string& only = call->request.keyspace();
  for (const auto& [name, ks] : *keyspaces_) {
    if (!only.empty() && name != only) continue;
    FillKeyspaceStats(name, ks.group->Stats(), call->response.add_keyspaces());
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
