// Group's fetches from the owner of a key, one by one (Get) or batched by owner (GetMany).
#include <algorithm>
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
  for (auto& [owner, fetches] : batch) SendFetches(owner, std::move(fetches), opts.deadline);
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
  auto work = [self, key, hash, owner = std::move(route.owner), batch, waiter_deadline](Done d) {
    if (self->ServeIfCached(key, hash, d)) return;
    PeerFetch fetch{key, hash, self->main_->generation(), std::move(d)};
    if (batch != nullptr) {
      (*batch)[owner].push_back(std::move(fetch));
      return;
    }
    std::vector<PeerFetch> one;
    one.push_back(std::move(fetch));
    self->SendFetches(owner, std::move(one), waiter_deadline);
  };
  bool started = fetches_.Do(key, waiter_deadline, flight_deadline, work, std::move(done));
  if (!started) counters_.Add(KeyspaceStats::kLoadsDeduped);
}

Millis Group::LocalLoadEstimate() const {
  if (load_latency_.Samples() >= kMinLoadSamples) {
    Millis p99 = load_latency_.Quantile(0.99, kMinLoadSamples);
    if (p99 > 0) return std::min(p99, options_.load_timeout_ms);
  }
  return std::min(options_.load_timeout_ms, kDefaultLoadEstimateMs);
}

Millis Group::PeerDeadline(Millis now, Millis waiter_deadline) const {
  Millis deadline = SaturatingAdd(now, env_.peer_timeout_ms);
  if (waiter_deadline == kNoDeadline) return deadline;
  return std::min(deadline, waiter_deadline - LocalLoadEstimate());
}

Millis Group::HedgeDelay(const PeerClient& client) const {
  if (env_.peer_hedge_delay_ms != GroupEnv::kAutoHedgeDelay) return env_.peer_hedge_delay_ms;
  // The owner gets twice the time a load takes (a miss there loads from the same data source)
  // plus a margin from its own latency, so a slow database alone does not make misses load twice.
  // The load time is this node's loads' p99, or, when this node has not timed enough loads (a
  // non-owner rarely loads), the owner's own p99, which includes its loads. Knowing neither, the
  // node does not hedge: a guess could double the load of a slow database on every cold miss, and
  // the peer call's deadline still leaves the caller time for a local load.
  Millis p99 = client.LatencyP99Ms();
  Millis load = load_latency_.Samples() >= kMinLoadSamples ? LocalLoadEstimate() : p99;
  if (load <= 0) return 0;
  Millis margin = p99 <= 0 ? 20 : std::clamp<Millis>(2 * p99, 5, 50);
  return SaturatingAdd(SaturatingAdd(load, load), margin);
}

void Group::SendFetches(const std::string& owner, std::vector<PeerFetch> fetches,
                        Millis waiter_deadline) {
  std::shared_ptr<PeerClient> client = env_.peers->Client(owner);
  Millis now = env_.clock->NowMs();
  Millis deadline = PeerDeadline(now, waiter_deadline);
  std::string_view skip_reason;
  if (client == nullptr) {
    skip_reason = "no connection to the owner";
  } else if (client->health() == PeerHealth::kEjected) {
    skip_reason = "owner ejected";
  } else if (deadline <= now) {
    skip_reason = "no time left for a peer call before a local load";
  }
  if (!skip_reason.empty()) {
    counters_.Add(KeyspaceStats::kPeerCallsSkipped, fetches.size());
    for (PeerFetch& f : fetches) {
      FallBackToLocalLoad(owner, skip_reason, f.key, f.hash, std::move(f.done));
    }
    return;
  }
  counters_.Add(KeyspaceStats::kPeerGets, fetches.size());
  bool up = client->health() == PeerHealth::kUp;
  SentFetches sent;
  sent.reserve(fetches.size());
  for (PeerFetch& f : fetches) {
    sent.push_back(std::make_shared<SentFetch>(std::move(f)));
    if (up) hedge_budget_.Deposit();
  }
  auto self = shared_from_this();
  // Armed before the call: a call refused at once completes (and falls back) before it returns,
  // and the hedge then finds nothing left to do.
  Millis hedge_delay = HedgeDelay(*client);
  if (hedge_delay > 0 && SaturatingAdd(now, hedge_delay) < deadline) {
    auto timer = std::make_shared<HedgeTimer>(sent.size());
    for (const auto& f : sent) f->hedge = timer;
    Millis alive_window = std::max<Millis>(hedge_delay / 4, 5);
    timer->id.store(env_.scheduler->RunAfter(hedge_delay,
                                             [self, sent, client, alive_window, deadline] {
                                               self->Hedge(sent, client, alive_window, deadline);
                                             }),
                    std::memory_order_release);
  }
  uint64_t fingerprint = env_.peers->Ring()->fingerprint();
  if (sent.size() == 1) {
    client->Get(name(), sent[0]->fetch.key, fingerprint, deadline,
                [self, one = sent[0], owner](StatusOr<PeerValue> r) {
                  self->FinishFetch(one, owner, std::move(r));
                });
    return;
  }
  std::vector<std::string_view> keys;
  keys.reserve(sent.size());
  for (const auto& f : sent) keys.push_back(f->fetch.key);
  client->GetBatch(name(), keys, fingerprint, deadline,
                   [self, sent, owner](size_t i, StatusOr<PeerValue> r) {
                     self->FinishFetch(sent[i], owner, std::move(r));
                   });
}

void Group::Hedge(const SentFetches& sent, const std::shared_ptr<PeerClient>& client,
                  Millis alive_window, Millis deadline) {
  // An owner that answered other calls within the last `alive_window` is alive, merely busy:
  // loading here too would add load on the database for no gain. Hedges are for an owner that
  // went silent (hung, partitioned), so the hedge looks again after the window, until the peer
  // call's deadline (which still leaves the caller time for a local load).
  Millis now = env_.clock->NowMs();
  if (client->LastAnswerMs() > now - alive_window) {
    if (SaturatingAdd(now, alive_window) >= deadline) {
      counters_.Add(KeyspaceStats::kHedgesSkippedOwnerAlive, sent.size());
      return;
    }
    auto self = shared_from_this();
    Scheduler::TaskId id =
        env_.scheduler->RunAfter(alive_window, [self, sent, client, alive_window, deadline] {
          self->Hedge(sent, client, alive_window, deadline);
        });
    // ClaimAnswer cancels the timer it finds; a re-check it misses finds every fetch answered.
    if (!sent.empty() && sent[0]->hedge != nullptr) {
      sent[0]->hedge->id.store(id, std::memory_order_release);
    }
    return;
  }
  // A peer that is not up (it failed its last calls) may always be hedged: the budget protects
  // the database from hedging against a healthy but slow owner.
  bool budgeted = client->health() == PeerHealth::kUp;
  auto self = shared_from_this();
  for (const std::shared_ptr<SentFetch>& f : sent) {
    if (f->answered.load(std::memory_order_acquire) ||
        f->local_started.load(std::memory_order_acquire)) {
      continue;
    }
    if (budgeted && !hedge_budget_.TryWithdraw()) {
      counters_.Add(KeyspaceStats::kHedgesThrottled);
      continue;
    }
    if (f->local_started.exchange(true, std::memory_order_acq_rel)) continue;  // a fallback runs
    counters_.Add(KeyspaceStats::kHedgedLoads);
    LoadHere(f->fetch.key, f->fetch.hash, Fill::kFallback, kNoDeadline,
             [self, f](const GetResult& r) {
               if (!self->ClaimAnswer(*f)) return;  // the owner answered first
               self->counters_.Add(KeyspaceStats::kHedgeWins);
               f->fetch.done(r);
             });
  }
}

void Group::FinishFetch(const std::shared_ptr<SentFetch>& sent, const std::string& owner,
                        StatusOr<PeerValue> answer) {
  const PeerFetch& fetch = sent->fetch;
  if (!answer.ok()) {
    // The call failed (the transport counts it for the peer's health): load here, unless a hedged
    // load already runs or answered.
    counters_.Add(KeyspaceStats::kPeerErrors);
    if (sent->local_started.exchange(true, std::memory_order_acq_rel)) return;
    std::string reason = "call failed: " + std::string(StatusCodeName(answer.status().code())) +
                         ": " + answer.status().message();
    FallBackToLocalLoad(owner, reason, fetch.key, fetch.hash,
                        [self = shared_from_this(), sent](GetResult r) {
                          if (self->ClaimAnswer(*sent)) sent->fetch.done(std::move(r));
                        });
    return;
  }
  // A hedged load answered first: the owner's late answer is dropped.
  if (!ClaimAnswer(*sent)) return;
  const PeerValue& pv = answer.value();
  if (!pv.status.ok()) {
    // The owner answered (NOT_FOUND, or its loader failed): loading here would ask the same data
    // source again, and the peer did nothing wrong.
    if (pv.status.code() != StatusCode::kNotFound) counters_.Add(KeyspaceStats::kPeerOwnerErrors);
    GetResult out = ErrorResult(pv.status);
    out.source = ValueSource::kPeer;
    fetch.done(std::move(out));
    return;
  }
  if (pv.stale) {
    // The owner served it past its TTL: pass it on as such, never keep it as a hot copy.
    fetch.done(StaleAnswer(ValueRef::Make(fetch.key, fetch.hash, pv.value,
                                          ExpiryTime(env_.clock->NowMs(), kStaleTtlMs))));
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
}

bool Group::ClaimAnswer(SentFetch& f) {
  if (f.answered.exchange(true, std::memory_order_acq_rel)) return false;
  if (f.hedge != nullptr && f.hedge->unanswered.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // Nothing left to hedge: the timer (and the fetches it holds) go now, not at the delay.
    env_.scheduler->Cancel(f.hedge->id.load(std::memory_order_acquire));
  }
  return true;
}

void Group::FallBackToLocalLoad(const std::string& owner, std::string_view reason,
                                const std::string& key, uint64_t hash, Done done) {
  counters_.Add(KeyspaceStats::kLocalFallbackLoads);
  LogLocalLoad(owner, reason);
  LoadHere(key, hash, Fill::kFallback, kNoDeadline, [done](const GetResult& r) { done(r); });
}

void Group::LogLocalLoad(const std::string& owner, std::string_view reason) {
  uint64_t suppressed = 0;
  if (!local_load_log_.Allow(owner, &suppressed)) return;
  LogWarn("loading locally",
          {{"keyspace", name()}, {"owner", owner}, {"reason", reason}, {"suppressed", suppressed}});
}

}  // namespace podcache
