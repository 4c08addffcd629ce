#include "core/group.h"

#include <future>

#include "core/hash.h"
#include "core/log.h"

namespace podcache {

std::string_view ValueSourceName(ValueSource s) {
  switch (s) {
    case ValueSource::kNone:
      return "none";
    case ValueSource::kMain:
      return "main";
    case ValueSource::kHot:
      return "hot";
    case ValueSource::kPeer:
      return "peer";
    case ValueSource::kLoader:
      return "loader";
    case ValueSource::kStale:
      return "stale";
  }
  return "none";
}

GetResult Group::ErrorResult(Status s) {
  GetResult r;
  r.status = std::move(s);
  return r;
}

GetResult Group::Found(ValueRef v, ValueSource source, Millis remaining_ttl_ms) {
  GetResult r;
  r.value = std::move(v);
  r.source = source;
  r.remaining_ttl_ms = remaining_ttl_ms;
  return r;
}

Millis Group::CapTtl(Millis ttl, Millis cap) {
  if (cap == 0) return ttl;
  return (ttl == 0 || ttl > cap) ? cap : ttl;
}

StatusOr<std::shared_ptr<Group>> Group::Create(const KeyspaceOptions& options,
                                               std::shared_ptr<Loader> loader,
                                               const GroupEnv& env) {
  if (Status s = options.Validate(); !s.ok()) return s;
  if (env.scheduler == nullptr || env.clock == nullptr) {
    return InvalidArgumentError("a group needs a scheduler and a clock");
  }
  auto group = std::make_shared<Group>(options, std::move(loader), env);
  if (env.peers != nullptr) {
    PropagationEnv p;
    p.keyspace = options.name;
    p.peers = env.peers;
    p.scheduler = env.scheduler;
    p.clock = env.clock;
    p.peer_timeout_ms = env.peer_timeout_ms;
    p.write_ack_wait_ms = env.write_ack_wait_ms;
    p.repair_interval_ms = env.repair_interval_ms;
    p.repair_max_keys = env.repair_max_keys;
    std::weak_ptr<Group> weak = group;
    p.adopt_generation = [weak](uint64_t generation) {
      if (auto g = weak.lock()) (void)g->AdvanceGeneration(generation);  // refusals are logged
    };
    p.clear_hot = [weak] {
      if (auto g = weak.lock()) g->hot_->Clear();
    };
    p.holds_entries = [weak] {
      auto g = weak.lock();
      return g != nullptr && (g->main_->Stats().items > 0 || g->hot_->Stats().items > 0);
    };
    p.count = [weak](KeyspaceStats::Counter c) {
      if (auto g = weak.lock()) g->counters_.Add(c);
    };
    group->propagation_ = Propagation::Start(std::move(p));
  }
  return group;
}

Group::Group(const KeyspaceOptions& options, std::shared_ptr<Loader> loader, const GroupEnv& env)
    : options_(options),
      loader_(std::move(loader)),
      env_(env),
      hot_tracker_(env.clock, options.hot_promote_hits, options.hot_window_ms),
      load_limiter_(options.load_concurrency, static_cast<size_t>(options.load_queue)),
      loads_(env.scheduler, ErrorResult),
      fetches_(env.scheduler, ErrorResult),
      breaker_(
          LoaderBreaker::Options{options.loader_breaker_failures, options.loader_breaker_time_ms,
                                 options.loader_breaker_max_time_ms, options.load_timeout_ms},
          env.clock),
      load_latency_(env.clock) {
  size_t hot_bytes =
      static_cast<size_t>(static_cast<double>(options.max_bytes) * options.hot_share);
  StoreOptions main_options;
  main_options.max_bytes = options.max_bytes - hot_bytes;
  main_options.policy = options.eviction;
  main_options.max_entry_bytes = options.max_key_bytes + options.max_value_bytes + 64;
  main_options.clock = env.clock;
  main_ = NewStore(main_options);
  StoreOptions hot_options = main_options;
  hot_options.max_bytes = hot_bytes;
  hot_ = NewStore(hot_options);
}

Status Group::CheckKey(std::string_view key) const {
  if (key.empty()) return InvalidArgumentError("keyspace '" + name() + "': empty key");
  if (key.size() > options_.max_key_bytes) {
    return InvalidArgumentError(
        "keyspace '" + name() + "': key of " + std::to_string(key.size()) +
        " bytes exceeds max_key_bytes=" + std::to_string(options_.max_key_bytes));
  }
  return OkStatus();
}

bool Group::OwnedHere(uint64_t hash, std::string* owner) const {
  if (env_.peers == nullptr) return true;
  RingPtr ring = env_.peers->Ring();
  if (ring == nullptr || ring->empty()) return true;
  *owner = ring->Owner(hash);
  return *owner == env_.peers->Self();
}

GetResult Group::FromEntry(ValueRef v, ValueSource source) const {
  GetResult r;
  r.source = source;
  Millis remaining = v.RemainingMs(env_.clock->NowMs());
  r.remaining_ttl_ms = remaining < 0 ? 0 : remaining;
  if (v.negative()) {
    r.status = NotFoundError("keyspace '" + name() + "': key not found");
  } else {
    r.value = std::move(v);
  }
  return r;
}

bool Group::Lookup(std::string_view key, const GetOptions& opts, GetResult* answer, Route* route) {
  if (Status s = CheckKey(key); !s.ok()) {
    *answer = ErrorResult(std::move(s));
    return true;
  }
  counters_.Add(KeyspaceStats::kGets);
  if (opts.from_peer) counters_.Add(KeyspaceStats::kGetsFromPeers);
  uint64_t hash = HashBytes(key);
  bool stale = false;
  ValueRef v = main_->LookupStale(key, hash, &stale);
  if (v && !stale) {
    *answer = FromEntry(std::move(v), ValueSource::kMain);
    return true;
  }
  if (ValueRef h = hot_->Lookup(key, hash)) {
    *answer = FromEntry(std::move(h), ValueSource::kHot);
    return true;
  }
  route->hash = hash;
  bool here = OwnedHere(hash, &route->owner);
  if (opts.from_peer && !here) counters_.Add(KeyspaceStats::kRingDisagreements);
  route->remote = !here && !opts.from_peer;
  // Stale values are the owner's to serve: a non-owner asks the owner, which may answer stale.
  if (v && !route->remote && ServeStaleWhileRevalidate(key, hash, v, answer)) return true;
  counters_.Add(KeyspaceStats::kMisses);
  if (route->remote) hot_tracker_.RecordAndCheck(hash);
  return false;
}

GetResult Group::StaleAnswer(ValueRef v) {
  counters_.Add(KeyspaceStats::kStaleServed);
  return Found(std::move(v), ValueSource::kStale, kStaleTtlMs);
}

bool Group::ServeStaleWhileRevalidate(std::string_view key, uint64_t hash, const ValueRef& v,
                                      GetResult* answer) {
  if (v.negative() || loader_ == nullptr) return false;
  Millis until = SaturatingAdd(v.expires_at(), v.stale_windows().while_revalidate_ms);
  if (env_.clock->NowMs() >= until) return false;
  *answer = StaleAnswer(v);
  // No refresh while the loader breaker refuses loads: the stale value is all there is.
  if (breaker_.Refusing()) return true;
  // One refresh per key: a load already in flight for it (a refresh, or a reader's load) will do.
  std::string k(key);
  auto self = shared_from_this();
  bool started = loads_.StartIfIdle(
      k, SaturatingAdd(env_.clock->NowMs(), options_.load_timeout_ms),
      [self, k, hash](Done d) { self->StartLoad(k, hash, Fill::kOwner, std::move(d)); });
  if (started) counters_.Add(KeyspaceStats::kStaleRevalidations);
  return true;
}

bool Group::StaleIfError(std::string_view key, uint64_t hash, GetResult* answer) {
  bool stale = false;
  ValueRef v = main_->LookupStale(key, hash, &stale);
  if (!v || !stale || v.negative()) return false;
  Millis until = SaturatingAdd(v.expires_at(), v.stale_windows().if_error_ms);
  if (env_.clock->NowMs() >= until) return false;
  counters_.Add(KeyspaceStats::kStaleIfErrorServed);
  *answer = StaleAnswer(std::move(v));
  return true;
}

void Group::Get(std::string_view key, const GetOptions& opts, GetCallback done) {
  Route route;
  if (GetResult answer; Lookup(key, opts, &answer, &route)) return done(answer);
  if (!route.remote) {
    LoadHere(std::string(key), route.hash, Fill::kOwner, opts.deadline, std::move(done));
    return;
  }
  FetchFromOwner(std::string(key), std::move(route), opts.deadline, std::move(done), nullptr);
}

bool Group::ServeIfCached(std::string_view key, uint64_t hash, const Done& done) {
  ValueRef v = main_->Lookup(key, hash);
  ValueSource source = ValueSource::kMain;
  if (!v) {
    v = hot_->Lookup(key, hash);
    source = ValueSource::kHot;
  }
  if (!v) return false;
  done(FromEntry(std::move(v), source));
  return true;
}

void Group::LoadHere(std::string key, uint64_t hash, Fill fill, Millis waiter_deadline,
                     GetCallback done) {
  Millis now = env_.clock->NowMs();
  Millis flight_deadline = SaturatingAdd(now, options_.load_timeout_ms);
  auto self = shared_from_this();
  if (fill == Fill::kOwner) {
    // stale-if-error: a waiter whose load failed (error, timeout, breaker or queue refusal, its
    // own deadline) gets the expired value instead while it is within its window.
    done = [self, key, hash, done = std::move(done)](const GetResult& r) {
      GetResult stale;
      if (!r.status.ok() && r.status.code() != StatusCode::kNotFound &&
          self->StaleIfError(key, hash, &stale)) {
        return done(stale);
      }
      done(r);
    };
  }
  bool started = loads_.Do(
      key, waiter_deadline, flight_deadline,
      [self, key, hash, fill, now](Done d) {
        // The loader's latency (queueing for a slot included) is what a local load needs.
        Done timed = [self, now, d = std::move(d)](GetResult r) {
          if (r.source == ValueSource::kLoader) {
            self->load_latency_.Record(self->env_.clock->NowMs() - now);
          }
          d(std::move(r));
        };
        self->StartLoad(key, hash, fill, std::move(timed));
      },
      std::move(done));
  if (!started) counters_.Add(KeyspaceStats::kLoadsDeduped);
}

void Group::StartLoad(const std::string& key, uint64_t hash, Fill fill, Done done) {
  // A flight that finished between this caller's miss and its Do() has already filled the cache.
  if (ServeIfCached(key, hash, done)) return;
  if (loader_ == nullptr) {
    counters_.Add(KeyspaceStats::kNotFound);
    done(ErrorResult(NotFoundError("keyspace '" + name() +
                                   "': key not found (cache-aside keyspace, no loader)")));
    return;
  }
  LoaderBreaker::Admission admission = breaker_.Admit();
  if (!admission.allowed) {
    counters_.Add(KeyspaceStats::kLoadsShortCircuited);
    done(ErrorResult(UnavailableError("keyspace '" + name() + "': loader circuit open after " +
                                      std::to_string(admission.failures) +
                                      " failed loads, retrying in " +
                                      std::to_string(admission.retry_in_ms) + " ms")));
    return;
  }
  // The generation is taken before the load starts: if the keyspace is invalidated while the
  // loader runs, the (possibly stale) value is handed to its waiters but not cached.
  uint64_t generation = main_->generation();
  auto self = shared_from_this();
  bool accepted = load_limiter_.Submit([self, key, hash, fill, generation, done]() {
    self->counters_.Add(KeyspaceStats::kLoads);
    auto released = std::make_shared<std::atomic<bool>>(false);
    auto release_once = [self, released] {
      if (!released->exchange(true)) self->load_limiter_.Release();
    };
    Millis deadline = SaturatingAdd(self->env_.clock->NowMs(), self->options_.load_timeout_ms);
    try {
      self->loader_->Load(
          self->name(), key, deadline,
          [self, key, hash, fill, generation, done, release_once](StatusOr<Loaded> r) {
            release_once();
            self->RecordLoadOutcome(r.status());
            self->FinishLoad(key, hash, fill, generation, std::move(r), done);
          });
    } catch (const std::exception& e) {
      release_once();
      self->counters_.Add(KeyspaceStats::kLoadErrors);
      Status s = InternalError("keyspace '" + self->name() + "': loader threw: " + e.what());
      self->RecordLoadOutcome(s);
      done(ErrorResult(std::move(s)));
    } catch (...) {
      release_once();
      self->counters_.Add(KeyspaceStats::kLoadErrors);
      Status s = InternalError("keyspace '" + self->name() + "': loader threw");
      self->RecordLoadOutcome(s);
      done(ErrorResult(std::move(s)));
    }
  });
  if (!accepted) {
    if (admission.probe) breaker_.AbandonProbe();
    counters_.Add(KeyspaceStats::kLoadsRejected);
    done(ErrorResult(ResourceExhaustedError(
        "keyspace '" + name() +
        "': too many loads waiting (load_queue=" + std::to_string(options_.load_queue) + ")")));
  }
}

void Group::RecordLoadOutcome(const Status& status) {
  // NOT_FOUND, and RESOURCE_EXHAUSTED (what loaders answer for a value over max_value_bytes), are
  // answers of a working data source: they do not count towards opening the breaker.
  bool failed = !status.ok() && status.code() != StatusCode::kNotFound &&
                status.code() != StatusCode::kResourceExhausted;
  LoaderBreaker::Transition t = failed ? breaker_.RecordFailure(status) : breaker_.RecordSuccess();
  if (t.kind == LoaderBreaker::Transition::kOpened) {
    counters_.Add(KeyspaceStats::kLoaderBreakerOpens);
    LogWarn("loader circuit breaker opened", {{"keyspace", name()},
                                              {"failures", t.failures},
                                              {"open_ms", static_cast<long long>(t.open_ms)},
                                              {"last_error", t.last_error}});
  } else if (t.kind == LoaderBreaker::Transition::kClosed) {
    LogInfo("loader circuit breaker closed", {{"keyspace", name()},
                                              {"failures", t.failures},
                                              {"open_ms", static_cast<long long>(t.open_ms)},
                                              {"last_error", t.last_error}});
  }
}

void Group::FinishLoad(const std::string& key, uint64_t hash, Fill fill, uint64_t generation,
                       StatusOr<Loaded> loaded, Done done) {
  Millis now = env_.clock->NowMs();
  if (loaded.ok()) {
    const Loaded& l = loaded.value();
    if (l.value.size() > options_.max_value_bytes) {
      counters_.Add(KeyspaceStats::kLoadErrors);
      done(ErrorResult(ResourceExhaustedError(
          "keyspace '" + name() + "': loaded value of " + std::to_string(l.value.size()) +
          " bytes exceeds max_value_bytes=" + std::to_string(options_.max_value_bytes))));
      return;
    }
    Millis ttl = options_.EffectiveTtl(l.ttl_ms);
    // A fallback copy is never served stale (the owner keeps the stale windows), and lives at most
    // fallback_ttl (0: not kept), so it cannot outlive a partition by much.
    StaleWindows stale;
    bool keep = fill == Fill::kOwner || options_.fallback_ttl_ms > 0;
    if (fill == Fill::kFallback) {
      ttl = CapTtl(CapTtl(ttl, options_.hot_ttl_ms), options_.fallback_ttl_ms);
    } else {
      stale = options_.EffectiveStaleWindows(l.stale_while_revalidate_ms, l.stale_if_error_ms);
    }
    ValueRef v = ValueRef::Make(key, hash, l.value, ExpiryTime(now, ttl), false, stale);
    if (keep) (fill == Fill::kOwner ? main_ : hot_)->Insert(v, generation, /*replace=*/false);
    done(Found(std::move(v), ValueSource::kLoader, ttl));
    return;
  }
  if (loaded.status().code() == StatusCode::kNotFound) {
    counters_.Add(KeyspaceStats::kNotFound);
    // The source no longer has it: an old value kept for its stale windows goes too.
    if (fill == Fill::kOwner) main_->EraseExpired(key, hash);
    if (fill == Fill::kOwner && options_.negative_ttl_ms > 0) {
      main_->Insert(ValueRef::Make(key, hash, "", ExpiryTime(now, options_.negative_ttl_ms), true),
                    generation, /*replace=*/false);
    }
    GetResult r = ErrorResult(NotFoundError("keyspace '" + name() + "': key not found"));
    r.source = ValueSource::kLoader;
    done(std::move(r));
    return;
  }
  counters_.Add(KeyspaceStats::kLoadErrors);
  GetResult r = ErrorResult(loaded.status());
  r.source = ValueSource::kLoader;
  done(std::move(r));
}

void Group::Set(std::string_view key, std::string_view value, Millis ttl_ms,
                const WriteOptions& opts, WriteCallback done) {
  if (Status s = CheckKey(key); !s.ok()) return done(WriteResult{std::move(s)});
  if (value.size() > options_.max_value_bytes) {
    return done(WriteResult{InvalidArgumentError(
        "keyspace '" + name() + "': value of " + std::to_string(value.size()) +
        " bytes exceeds max_value_bytes=" + std::to_string(options_.max_value_bytes))});
  }
  if (ttl_ms < -1) {
    return done(WriteResult{InvalidArgumentError(
        "keyspace '" + name() + "': ttl must be >= 0 (or -1 for the keyspace default)")});
  }
  counters_.Add(KeyspaceStats::kSets);
  uint64_t hash = HashBytes(key);
  std::string owner;
  if (opts.from_peer || OwnedHere(hash, &owner)) {
    return ApplyOwnedWrite(key, hash, &value, ttl_ms, std::move(done));
  }
  ForwardToOwner(key, hash, owner, opts, std::move(done),
                 [&](PeerClient& c, Millis deadline, PeerClient::WriteFn fn) {
                   c.Set(name(), key, value, ttl_ms, deadline, std::move(fn));
                 });
}

void Group::Delete(std::string_view key, const WriteOptions& opts, WriteCallback done) {
  if (Status s = CheckKey(key); !s.ok()) return done(WriteResult{std::move(s)});
  counters_.Add(KeyspaceStats::kDeletes);
  uint64_t hash = HashBytes(key);
  std::string owner;
  if (opts.from_peer || OwnedHere(hash, &owner)) {
    return ApplyOwnedWrite(key, hash, nullptr, 0, std::move(done));
  }
  ForwardToOwner(key, hash, owner, opts, std::move(done),
                 [&](PeerClient& c, Millis deadline, PeerClient::WriteFn fn) {
                   c.Delete(name(), key, deadline, std::move(fn));
                 });
}

void Group::ForwardToOwner(std::string_view key, uint64_t hash, const std::string& owner,
                           const WriteOptions& opts, WriteCallback done, const PeerCall& call) {
  hot_->Erase(key, hash);  // this node's copy is about to be stale
  std::shared_ptr<PeerClient> client = env_.peers->Client(owner);
  if (client == nullptr) {
    return done(WriteResult{
        UnavailableError("keyspace '" + name() + "': owner " + owner + " is not reachable")});
  }
  // The owner answers once it applied the write and waited at most write_ack_wait for the
  // others: an error here is about the owner itself (it did not answer, or refused).
  call(*client, std::min(opts.deadline, SaturatingAdd(env_.clock->NowMs(), env_.peer_timeout_ms)),
       std::move(done));
}

void Group::ApplyOwnedWrite(std::string_view key, uint64_t hash, const std::string_view* value,
                            Millis ttl_ms, WriteCallback done) {
  if (value != nullptr) {
    Millis ttl = options_.EffectiveTtl(ttl_ms);
    Millis now = env_.clock->NowMs();
    ValueRef v = ValueRef::Make(key, hash, *value, ExpiryTime(now, ttl));
    if (!main_->Insert(v, main_->generation())) {
      return done(WriteResult{ResourceExhaustedError(
          "keyspace '" + name() + "': value of " + std::to_string(value->size()) +
          " bytes does not fit the keyspace's memory budget")});
    }
  } else {
    main_->Erase(key, hash);
  }
  hot_->Erase(key, hash);
  if (propagation_ == nullptr) return done(WriteResult{OkStatus()});
  propagation_->Drop(key, [done = std::move(done)](uint32_t acked, uint32_t pending) {
    done(WriteResult{OkStatus(), acked, pending});
  });
}

void Group::DropHot(std::string_view key) { hot_->Erase(key, HashBytes(key)); }

Status Group::Repair(std::span<const std::string_view> keys, bool clear_hot, uint64_t generation) {
  if (clear_hot) {
    hot_->Clear();
  } else {
    for (std::string_view key : keys) hot_->Erase(key, HashBytes(key));
  }
  return generation == 0 ? OkStatus() : AdvanceGeneration(generation);
}

void Group::Invalidate(WriteCallback done) {
  counters_.Add(KeyspaceStats::kInvalidations);
  uint64_t next = main_->generation() + 1;
  main_->AdvanceGeneration(next);
  hot_->AdvanceGeneration(next);
  if (propagation_ == nullptr) return done(WriteResult{OkStatus()});
  propagation_->AdvanceGeneration(next, [done = std::move(done)](uint32_t acked, uint32_t pending) {
    done(WriteResult{OkStatus(), acked, pending});
  });
}

std::vector<std::pair<std::string, uint64_t>> Group::PendingRepairs() const {
  if (propagation_ == nullptr) return {};
  return propagation_->Pending();
}

Status Group::AdvanceGeneration(uint64_t generation) {
  if (generation > kMaxPeerGeneration) {
    counters_.Add(KeyspaceStats::kGenerationsRefused);
    LogWarn("peer generation refused", {{"keyspace", name()},
                                        {"generation", std::to_string(generation)},
                                        {"max", std::to_string(kMaxPeerGeneration)}});
    return InvalidArgumentError("keyspace '" + name() + "': generation " +
                                std::to_string(generation) + " is beyond the largest accepted (" +
                                std::to_string(kMaxPeerGeneration) + ")");
  }
  main_->AdvanceGeneration(generation);
  hot_->AdvanceGeneration(generation);
  return OkStatus();
}

GetResult Group::GetSync(std::string_view key, const GetOptions& opts) {
  auto p = std::make_shared<std::promise<GetResult>>();
  Get(key, opts, [p](const GetResult& r) { p->set_value(r); });
  return p->get_future().get();
}

WriteResult Group::SetSync(std::string_view key, std::string_view value, Millis ttl_ms,
                           const WriteOptions& opts) {
  auto p = std::make_shared<std::promise<WriteResult>>();
  Set(key, value, ttl_ms, opts, [p](const WriteResult& r) { p->set_value(r); });
  return p->get_future().get();
}

WriteResult Group::DeleteSync(std::string_view key, const WriteOptions& opts) {
  auto p = std::make_shared<std::promise<WriteResult>>();
  Delete(key, opts, [p](const WriteResult& r) { p->set_value(r); });
  return p->get_future().get();
}

size_t Group::ReclaimExpired(size_t max_buckets) {
  return main_->ReclaimExpired(max_buckets) + hot_->ReclaimExpired(max_buckets);
}

KeyspaceStats Group::Stats() const {
  KeyspaceStats s;
  for (int c = 0; c < KeyspaceStats::kNumCounters; ++c) s.counters[c] = counters_.Sum(c);
  s.main = main_->Stats();
  s.hot = hot_->Stats();
  s.generation = main_->generation();
  s.loads_active = load_limiter_.active();
  s.loads_queued = load_limiter_.queued();
  s.loader_breaker_open = breaker_.open();
  return s;
}

}  // namespace podcache
