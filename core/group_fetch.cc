// Group's fetches from the owner of a key, one by one (Get) or batched by owner (GetMany).
#include <atomic>

#include "core/group.h"

namespace podcache {
namespace {

// What a GetMany waits for: one count per key, plus one for the loop that starts them, so that
// all_done cannot run while keys are still being started.
struct ManyCall {
  ManyCall(size_t keys, Group::ItemCallback item, std::function<void()> all)
      : item_done(std::move(item)), all_done(std::move(all)), pending(keys + 1) {}
  void Finished() {
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) all_done();
  }

  const Group::ItemCallback item_done;
  const std::function<void()> all_done;
  std::atomic<size_t> pending;
};

}  // namespace

void Group::GetMany(std::span<const std::string_view> keys, const GetOptions& opts,
                    ItemCallback item_done, std::function<void()> all_done) {
  auto call = std::make_shared<ManyCall>(keys.size(), std::move(item_done), std::move(all_done));
  FetchesByOwner batch;
  for (size_t i = 0; i < keys.size(); ++i) {
    Route route;
    if (GetResult answer; Lookup(keys[i], opts, &answer, &route)) {
      call->item_done(i, answer);  // a hit or a bad key: answered here, no callback built
      call->Finished();
      continue;
    }
    GetCallback done = [call, i](const GetResult& r) {
      call->item_done(i, r);
      call->Finished();
    };
    if (!route.remote) {
      LoadHere(std::string(keys[i]), route.hash, Fill::kOwner, opts.deadline, std::move(done));
      continue;
    }
    FetchFromOwner(std::string(keys[i]), std::move(route), opts.deadline, std::move(done), &batch);
  }
  // Every owner's keys leave now, all owners in parallel.
  for (auto& [owner, fetches] : batch) SendFetches(owner, std::move(fetches));
  call->Finished();
}

void Group::FetchFromOwner(std::string key, Route route, Millis waiter_deadline, GetCallback done,
                           FetchesByOwner* batch) {
  Millis now = env_.clock->NowMs();
  Millis flight_deadline =
      SaturatingAdd(SaturatingAdd(now, env_.peer_timeout_ms), options_.load_timeout_ms);
  auto self = shared_from_this();
  uint64_t hash = route.hash;
  // SingleFlight runs `work` on this thread, before Do returns, so `batch` is still alive.
  auto work = [self, key, hash, owner = std::move(route.owner), batch](Done d) {
    if (self->ServeIfCached(key, hash, d)) return;
    PeerFetch fetch{key, hash, self->main_->generation(), std::move(d)};
    if (batch != nullptr) {
      (*batch)[owner].push_back(std::move(fetch));
      return;
    }
    std::vector<PeerFetch> one;
    one.push_back(std::move(fetch));
    self->SendFetches(owner, std::move(one));
  };
  bool started = fetches_.Do(key, waiter_deadline, flight_deadline, work, std::move(done));
  if (!started) counters_.Add(KeyspaceStats::kLoadsDeduped);
}

void Group::SendFetches(const std::string& owner, std::vector<PeerFetch> fetches) {
  std::shared_ptr<PeerClient> client = env_.peers->Client(owner);
  if (client == nullptr) {
    for (PeerFetch& f : fetches) FallBackToLocalLoad(f.key, f.hash, std::move(f.done));
    return;
  }
  counters_.Add(KeyspaceStats::kPeerGets, fetches.size());
  Millis deadline = SaturatingAdd(env_.clock->NowMs(), env_.peer_timeout_ms);
  uint64_t fingerprint = env_.peers->Ring()->fingerprint();
  auto self = shared_from_this();
  if (fetches.size() == 1) {
    auto fetch = std::make_shared<const PeerFetch>(std::move(fetches[0]));
    client->Get(name(), fetch->key, fingerprint, deadline,
                [self, fetch](StatusOr<PeerValue> r) { self->FinishFetch(*fetch, std::move(r)); });
    return;
  }
  auto shared = std::make_shared<const std::vector<PeerFetch>>(std::move(fetches));
  std::vector<std::string_view> keys;
  keys.reserve(shared->size());
  for (const PeerFetch& f : *shared) keys.push_back(f.key);
  client->GetBatch(name(), keys, fingerprint, deadline,
                   [self, shared](size_t i, StatusOr<PeerValue> r) {
                     self->FinishFetch((*shared)[i], std::move(r));
                   });
}

void Group::FinishFetch(const PeerFetch& fetch, StatusOr<PeerValue> answer) {
  if (answer.ok()) {
    const PeerValue& pv = answer.value();
    if (pv.stale) {
      // The owner served it past its TTL: pass it on as such, never keep it as a hot copy.
      Millis now = env_.clock->NowMs();
      fetch.done(StaleAnswer(
          ValueRef::Make(fetch.key, fetch.hash, pv.value, ExpiryTime(now, kStaleTtlMs))));
      return;
    }
    // A negative TTL is no answer a podcache peer gives: serve it to the waiters now, never again.
    Millis ttl = pv.remaining_ttl_ms < 0 ? 1 : pv.remaining_ttl_ms;
    bool promote = hot_tracker_.IsHot(fetch.hash);
    if (promote) ttl = CapTtl(ttl, options_.hot_ttl_ms);
    Millis now = env_.clock->NowMs();
    ValueRef v = ValueRef::Make(fetch.key, fetch.hash, pv.value, ExpiryTime(now, ttl));
    if (promote && hot_->Insert(v, fetch.generation, /*replace=*/false)) {
      counters_.Add(KeyspaceStats::kHotPromotions);
    }
    fetch.done(Found(std::move(v), ValueSource::kPeer, ttl));
    return;
  }
  StatusCode code = answer.status().code();
  if (code == StatusCode::kNotFound || code == StatusCode::kInvalidArgument) {
    // The owner answered: loading here would give the same answer.
    GetResult out = ErrorResult(answer.status());
    out.source = ValueSource::kPeer;
    fetch.done(std::move(out));
    return;
  }
  counters_.Add(KeyspaceStats::kPeerErrors);
  FallBackToLocalLoad(fetch.key, fetch.hash, fetch.done);
}

void Group::FallBackToLocalLoad(const std::string& key, uint64_t hash, Done done) {
  counters_.Add(KeyspaceStats::kLocalFallbackLoads);
  LoadHere(key, hash, Fill::kFallback, kNoDeadline, [done](const GetResult& r) { done(r); });
}

}  // namespace podcache
