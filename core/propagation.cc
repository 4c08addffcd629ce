#include "core/propagation.h"

#include <algorithm>

namespace podcache {

// One write waiting for the members' acks, answered once: when every awaited member acked, or
// when write_ack_wait ends.
struct Propagation::Waiter {
  Mutex mu;
  uint32_t members = 0;  // every other member: acked + pending
  uint32_t awaited = 0;  // the members not ejected
  uint32_t acked GUARDED_BY(mu) = 0;
  AckFn done GUARDED_BY(mu);  // null once answered
  Scheduler::TaskId timer GUARDED_BY(mu) = 0;

  // Counts an ack if `ack`; answers (once) if `force` or every awaited member acked.
  void Finish(bool ack, bool force, Scheduler* scheduler) {
    AckFn fn;
    uint32_t a = 0;
    Scheduler::TaskId timer_id = 0;
    {
      MutexLock lock(&mu);
      if (done == nullptr) return;
      if (ack) ++acked;
      if (!force && acked < awaited) return;
      fn = std::move(done);
      done = nullptr;
      a = acked;
      timer_id = timer;
    }
    if (timer_id != 0) (void)scheduler->Cancel(timer_id);
    fn(a, members - a);
  }
  bool answered() {
    MutexLock lock(&mu);
    return done == nullptr;
  }
};

std::shared_ptr<Propagation> Propagation::Start(PropagationEnv env) {
  auto p = std::make_shared<Propagation>(std::move(env));
  p->ScheduleTick();
  return p;
}

Propagation::Propagation(PropagationEnv env) : env_(std::move(env)) {}

std::vector<std::string> Propagation::OtherMembers() const {
  std::vector<std::string> others;
  RingPtr ring = env_.peers->Ring();
  if (ring == nullptr) return others;
  for (const std::string& member : ring->members()) {
    if (member != env_.peers->Self()) others.push_back(member);
  }
  return others;
}

void Propagation::Drop(std::string_view key, AckFn done) {
  Enqueue(std::string(key), 0, std::move(done));
}

void Propagation::AdvanceGeneration(uint64_t generation, AckFn done) {
  Enqueue(std::string(), generation, std::move(done));
}

void Propagation::AddKey(const std::string& member, Member& m, std::string key) {
  if (m.clear_hot) return;  // clearing the hot store covers every key
  m.keys.insert(std::move(key));
  if (m.keys.size() <= env_.repair_max_keys) return;
  m.keys.clear();
  m.clear_hot = true;
  env_.count(KeyspaceStats::kRepairOverflows);
  uint64_t suppressed = 0;
  if (log_limiter_.Allow("overflow " + member, &suppressed)) {
    LogWarn("repair queue overflow: the member will be told to clear its hot store",
            {{"keyspace", env_.keyspace},
             {"member", member},
             {"repair_max_keys", static_cast<unsigned long>(env_.repair_max_keys)},
             {"suppressed", static_cast<unsigned long>(suppressed)}});
  }
}

void Propagation::Enqueue(const std::string& key, uint64_t generation, AckFn done) {
  std::vector<std::string> others = OtherMembers();
  if (others.empty()) return done(0, 0);
  // Ejected members are not waited for: they are refused at once and get the item by repair.
  std::vector<PeerHealth> health;
  for (const std::string& member : others) {
    std::shared_ptr<PeerClient> client = env_.peers->Client(member);
    health.push_back(client == nullptr ? PeerHealth::kEjected : client->health());
  }
  auto waiter = std::make_shared<Waiter>();
  waiter->members = static_cast<uint32_t>(others.size());
  {
    MutexLock lock(&waiter->mu);
    waiter->done = std::move(done);
  }
  {
    MutexLock lock(&mu_);
    for (size_t i = 0; i < others.size(); ++i) {
      Member& m = members_[others[i]];  // a new member is looked at by the next tick
      if (!key.empty()) AddKey(others[i], m, key);
      m.generation = std::max(m.generation, generation);
      ++m.enqueued;
      if (health[i] != PeerHealth::kEjected) {
        m.waiters.emplace_back(m.enqueued, waiter);
        ++waiter->awaited;
      }
    }
  }
  for (size_t i = 0; i < others.size(); ++i) {
    env_.count(KeyspaceStats::kBroadcastsSent);
    Send(others[i]);
  }
  waiter->Finish(false, env_.write_ack_wait_ms <= 0, env_.scheduler);
  if (waiter->answered()) return;
  // The timer holds the waiter: the write is answered even if every member's queue dropped it.
  Scheduler* scheduler = env_.scheduler;
  Scheduler::TaskId id = scheduler->RunAfter(
      env_.write_ack_wait_ms, [waiter, scheduler] { waiter->Finish(false, true, scheduler); });
  bool answered = false;
  {
    MutexLock lock(&waiter->mu);
    answered = waiter->done == nullptr;
    if (!answered) waiter->timer = id;
  }
  if (answered) (void)scheduler->Cancel(id);  // answered meanwhile
}

void Propagation::Send(const std::string& member) {
  std::vector<std::string> keys;
  bool clear_hot = false;
  uint64_t generation = 0;
  uint64_t sequence = 0;
  {
    MutexLock lock(&mu_);
    auto it = members_.find(member);
    if (it == members_.end()) return;
    Member& m = it->second;
    if (m.sending || m.queued() == 0) return;
    m.sending = true;
    m.in_flight = m.queued();
    keys.assign(std::make_move_iterator(m.keys.begin()), std::make_move_iterator(m.keys.end()));
    m.keys.clear();
    clear_hot = m.clear_hot;
    m.clear_hot = false;
    generation = m.generation;
    m.generation = 0;
    sequence = m.enqueued;
  }
  std::shared_ptr<PeerClient> client = env_.peers->Client(member);
  if (client == nullptr) {
    Sent(member, sequence, std::move(keys), clear_hot, generation,
         UnavailableError("no client for " + member));
    return;
  }
  auto self = shared_from_this();
  auto sent_keys = std::make_shared<std::vector<std::string>>(std::move(keys));
  client->Repair(env_.keyspace, *sent_keys, clear_hot, generation,
                 SaturatingAdd(env_.clock->NowMs(), env_.peer_timeout_ms),
                 [self, member, sequence, sent_keys, clear_hot, generation](Status s) {
                   self->Sent(member, sequence, std::move(*sent_keys), clear_hot, generation,
                              std::move(s));
                 });
}

void Propagation::Sent(const std::string& member, uint64_t sequence, std::vector<std::string> keys,
                       bool clear_hot, uint64_t generation, Status status) {
  std::vector<std::shared_ptr<Waiter>> acked;
  bool more = false;
  Millis now = env_.clock->NowMs();
  {
    MutexLock lock(&mu_);
    auto it = members_.find(member);
    if (it == members_.end()) return;  // left the ring: its queue is gone
    Member& m = it->second;
    m.sending = false;
    m.in_flight = 0;
    if (status.ok()) {
      auto& w = m.waiters;
      auto end = std::stable_partition(w.begin(), w.end(),
                                       [sequence](const auto& p) { return p.first > sequence; });
      for (auto i = end; i != w.end(); ++i) acked.push_back(std::move(i->second));
      w.erase(end, w.end());
      if (m.failing) {
        m.failing = false;
        m.needs_sync = true;  // the member was cut off from this node: what else did it miss?
        m.came_back = true;
        env_.count(KeyspaceStats::kRepairsDelivered);
        LogInfo("repair delivered", {{"keyspace", env_.keyspace},
                                     {"member", member},
                                     {"after_ms", static_cast<long long>(now - m.failing_since)}});
      }
      more = m.queued() > 0;
    } else {
      env_.count(KeyspaceStats::kBroadcastFailures);
      if (clear_hot) {
        m.clear_hot = true;
        m.keys.clear();
      } else {
        for (std::string& k : keys) AddKey(member, m, std::move(k));
      }
      m.generation = std::max(m.generation, generation);
      if (!m.failing) {
        m.failing = true;
        m.failing_since = now;
        env_.count(KeyspaceStats::kRepairsQueued);
        uint64_t suppressed = 0;
        if (log_limiter_.Allow("queued " + member, &suppressed)) {
          LogWarn("member unreachable: drops queued for repair",
                  {{"keyspace", env_.keyspace},
                   {"member", member},
                   {"pending", static_cast<unsigned long>(m.queued())},
                   {"error", status.message()},
                   {"suppressed", static_cast<unsigned long>(suppressed)}});
        }
      }
    }
  }
  for (auto& w : acked) w->Finish(true, false, env_.scheduler);
  if (!more) return;
  // What was queued meanwhile leaves at once, from the scheduler's thread: this callback may run
  // on a transport thread while the node shuts down, when the PeerView may be gone.
  std::weak_ptr<Propagation> weak = weak_from_this();
  env_.scheduler->RunAfter(0, [weak, member] {
    if (auto self = weak.lock()) self->Send(member);
  });
}

void Propagation::Tick() {
  std::vector<std::string> others = OtherMembers();
  std::vector<PeerHealth> health;
  for (const std::string& member : others) {
    std::shared_ptr<PeerClient> client = env_.peers->Client(member);
    health.push_back(client == nullptr ? PeerHealth::kEjected : client->health());
  }
  bool holds_entries = env_.holds_entries();
  std::vector<std::string> to_send;
  std::vector<std::string> to_sync;
  {
    MutexLock lock(&mu_);
    std::set<std::string> current(others.begin(), others.end());
    for (auto it = members_.begin(); it != members_.end();) {
      if (current.count(it->first) != 0) {
        ++it;
        continue;
      }
      if (it->second.queued() > 0) {
        LogInfo("member left the ring: its repair queue is dropped",
                {{"keyspace", env_.keyspace},
                 {"member", it->first},
                 {"pending", static_cast<unsigned long>(it->second.queued())}});
      }
      it = members_.erase(it);
    }
    for (size_t i = 0; i < others.size(); ++i) {
      auto it = members_.try_emplace(others[i]).first;
      Member& m = it->second;
      if (!m.ticked) {  // joined since the last tick
        m.ticked = true;
        m.needs_sync = holds_entries;
      }
      if (health[i] == PeerHealth::kUp && m.health != PeerHealth::kUp) {
        m.needs_sync = true;
        m.came_back = true;
      }
      m.health = health[i];
      // Writes that were answered (write_ack_wait passed) no longer wait for this member.
      std::erase_if(m.waiters, [](const auto& p) { return p.second->answered(); });
      if (!m.sending && m.queued() > 0) to_send.push_back(it->first);
      if (m.needs_sync && !m.syncing && health[i] != PeerHealth::kEjected) {
        m.syncing = true;
        to_sync.push_back(it->first);
      }
    }
  }
  for (const std::string& member : to_send) Send(member);
  for (const std::string& member : to_sync) SyncWith(member);
}

void Propagation::SyncWith(const std::string& member) {
  std::shared_ptr<PeerClient> client = env_.peers->Client(member);
  if (client == nullptr) return Synced(member, UnavailableError("no client for " + member));
  auto self = shared_from_this();
  client->Sync(env_.keyspace, SaturatingAdd(env_.clock->NowMs(), env_.peer_timeout_ms),
               [self, member](StatusOr<uint64_t> r) { self->Synced(member, std::move(r)); });
}

void Propagation::Synced(const std::string& member, StatusOr<uint64_t> generation) {
  // A peer without the keyspace (NOT_FOUND) or without Sync (UNIMPLEMENTED) has nothing to give:
  // the hot store is cleared all the same.
  StatusCode code = generation.ok() ? StatusCode::kOk : generation.status().code();
  bool done = code == StatusCode::kOk || code == StatusCode::kNotFound ||
              code == StatusCode::kUnimplemented;
  bool came_back = false;
  {
    MutexLock lock(&mu_);
    auto it = members_.find(member);
    if (it != members_.end()) {
      it->second.syncing = false;
      if (done) {
        it->second.needs_sync = false;
        came_back = it->second.came_back;
        it->second.came_back = false;
      }
    }
  }
  if (!done) return;  // retried on the next tick
  if (generation.ok()) env_.adopt_generation(generation.value());
  env_.clear_hot();
  env_.count(KeyspaceStats::kPeerSyncs);
  uint64_t suppressed = 0;
  if (!came_back) {
    LogDebug("synced with a new member: hot store cleared",
             {{"keyspace", env_.keyspace}, {"member", member}});
  } else if (log_limiter_.Allow("sync " + member, &suppressed)) {
    LogInfo("member came back: synced, hot store cleared",
            {{"keyspace", env_.keyspace},
             {"member", member},
             {"peer_generation", generation.ok() ? std::to_string(generation.value()) : "none"},
             {"suppressed", static_cast<unsigned long>(suppressed)}});
  }
}

void Propagation::ScheduleTick() {
  std::weak_ptr<Propagation> weak = weak_from_this();
  env_.scheduler->RunAfter(env_.repair_interval_ms, [weak] {
    if (auto self = weak.lock()) {
      self->Tick();
      self->ScheduleTick();
    }
  });
}

std::vector<std::pair<std::string, uint64_t>> Propagation::Pending() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  MutexLock lock(&mu_);
  for (const auto& [member, m] : members_) {
    out.emplace_back(member, m.queued() + m.in_flight);
  }
  return out;
}

}  // namespace podcache
