#include "core/peer_health.h"

#include <algorithm>

namespace podcache {

PeerHealthTracker::PeerHealthTracker(std::string peer, PeerHealthOptions options,
                                     const Clock* clock, Scheduler* scheduler, ProbeFn probe)
    : shared_(
          std::make_shared<Shared>(std::move(peer), options, clock, scheduler, std::move(probe))) {}

// A probe task still queued finds the tracker gone (weak_ptr) and does nothing. It is not
// cancelled: the last reference to a client may go on any thread, even after the scheduler stopped.
PeerHealthTracker::~PeerHealthTracker() = default;

Millis PeerHealthTracker::Shared::EjectLocked(Millis now) {
  ++ejections_in_row;
  ++ejections;
  int shift = std::min(ejections_in_row - 1, 30);
  Millis base = std::max<Millis>(options.eject_time_ms, 1);
  Millis length = base > (options.eject_max_time_ms >> shift)
                      ? options.eject_max_time_ms
                      : std::min(options.eject_max_time_ms, base << shift);
  length = std::max<Millis>(length, 1);
  ejected_until = SaturatingAdd(now, length);
  state = PeerHealth::kEjected;
  return length;
}

Status PeerHealthTracker::CheckGet(size_t keys) {
  Shared& s = *shared_;
  int failures = 0;
  Millis left = 0;
  {
    MutexLock lock(&s.mu);
    if (s.state != PeerHealth::kEjected) return OkStatus();
    Millis now = s.clock->NowMs();
    // Without a probe, the ejection simply ends: the next calls decide.
    bool probing = s.scheduler != nullptr && s.probe != nullptr;
    if (now >= s.ejected_until && !probing) return OkStatus();
    failures = s.failures;
    left = std::max<Millis>(0, s.ejected_until - now);
  }
  s.ejected_rejects.fetch_add(keys, std::memory_order_relaxed);
  std::string why = std::to_string(failures) +
                    " failed calls in a row (timeouts or connection failures); misses on its "
                    "keys are loaded locally";
  if (left > 0) {
    return UnavailableError("peer " + s.peer + " is ejected for " + std::to_string(left) +
                            " ms more after " + why);
  }
  return UnavailableError("peer " + s.peer + " is ejected until a probe succeeds, after " + why);
}

void PeerHealthTracker::Record(CallOutcome outcome, Millis budget_ms, Millis latency_ms,
                               std::string_view error) {
  RecordIn(shared_, outcome, budget_ms, latency_ms, error);
}

void PeerHealthTracker::RecordIn(const std::shared_ptr<Shared>& shared, CallOutcome outcome,
                                 Millis budget_ms, Millis latency_ms, std::string_view error) {
  Shared& s = *shared;
  if (outcome == CallOutcome::kIgnored) return;
  if (outcome == CallOutcome::kAnswered) {
    s.latencies.Record(std::max<Millis>(latency_ms, 0));
    s.last_answer_ms.store(s.clock->NowMs(), std::memory_order_relaxed);
  }
  if (outcome == CallOutcome::kTimeout) {
    Millis p99 = 0;
    if (s.latencies.Samples() >= 20) p99 = std::max<Millis>(1, s.latencies.Quantile(0.99));
    if (!TimeoutCounts(budget_ms, p99)) return;  // the caller's own deadline was too short
  }
  Change c;
  bool changed = false;
  {
    MutexLock lock(&s.mu);
    Millis now = s.clock->NowMs();
    c.from = s.state;
    if (outcome == CallOutcome::kAnswered) {
      s.failures = 0;
      s.ejections_in_row = 0;
      s.ejected_until = 0;
      changed = s.state != PeerHealth::kUp;
      s.state = PeerHealth::kUp;
    } else {
      ++s.failures;
      ++(outcome == CallOutcome::kTimeout ? s.timeouts : s.unavailable);
      if (s.state == PeerHealth::kEjected) {
        // A failure once the ejection is over (the probe's, or any call's): ejected again.
        if (now >= s.ejected_until) {
          c.ejected_ms = s.EjectLocked(now);
          changed = true;
        }
      } else if (s.failures >= s.options.eject_failures) {
        c.ejected_ms = s.EjectLocked(now);
        changed = true;
      } else if (s.state == PeerHealth::kUp) {
        s.state = PeerHealth::kSuspect;
        changed = true;
      }
    }
    c.to = s.state;
    c.failures = s.failures;
    if (changed && c.to == PeerHealth::kEjected) {
      c.schedule_probe = true;
      c.probe_at = s.ejected_until;
    }
  }
  if (changed) Apply(shared, c, error);
}

void PeerHealthTracker::Apply(const std::shared_ptr<Shared>& shared, const Change& c,
                              std::string_view error) {
  Shared& s = *shared;
  std::string from(PeerHealthName(c.from)), to(PeerHealthName(c.to));
  // Flapping between up and suspect may happen on every call: rate limited. Ejections are rare.
  bool flap = c.from != PeerHealth::kEjected && c.to != PeerHealth::kEjected;
  uint64_t suppressed = 0;
  if (!flap || s.suspect_log.Allow(s.peer, &suppressed)) {
    std::string err(error);
    Log(c.to == PeerHealth::kUp ? LogLevel::kInfo : LogLevel::kWarn, "peer state",
        {{"peer", s.peer},
         {"from", from},
         {"to", to},
         {"failures", c.failures},
         {"ejected_ms", static_cast<long long>(c.ejected_ms)},
         {"error", err},
         {"suppressed", static_cast<unsigned long>(suppressed)}});
  }
  if (!c.schedule_probe || s.scheduler == nullptr || s.probe == nullptr) return;
  std::weak_ptr<Shared> weak = shared;
  s.scheduler->RunAt(c.probe_at, [weak] { RunProbe(weak); });
}

void PeerHealthTracker::RunProbe(const std::weak_ptr<Shared>& weak) {
  std::shared_ptr<Shared> shared = weak.lock();
  if (shared == nullptr) return;
  Millis start = shared->clock->NowMs();
  {
    MutexLock lock(&shared->mu);
    // Back up meanwhile, or ejected again (a newer task probes at the new end).
    if (shared->state != PeerHealth::kEjected || start < shared->ejected_until) return;
    ++shared->probes;
  }
  shared->probe([weak, start](CallOutcome outcome, std::string_view error) {
    std::shared_ptr<Shared> s = weak.lock();
    if (s == nullptr) return;
    // A probe that did not get an answer failed, whatever the reason: ejected again.
    if (outcome == CallOutcome::kIgnored) outcome = CallOutcome::kUnavailable;
    RecordIn(s, outcome, kNoDeadline, s->clock->NowMs() - start, error);
  });
}

PeerHealth PeerHealthTracker::health() const {
  MutexLock lock(&shared_->mu);
  return shared_->state;
}

Millis PeerHealthTracker::LatencyP99Ms() const {
  if (shared_->latencies.Samples() < 20) return 0;
  return std::max<Millis>(1, shared_->latencies.Quantile(0.99));
}

PeerHealthSnapshot PeerHealthTracker::Snapshot() const {
  PeerHealthSnapshot out;
  out.latency_p99_ms = LatencyP99Ms();
  out.ejected_rejects = shared_->ejected_rejects.load(std::memory_order_relaxed);
  const Shared& s = *shared_;
  MutexLock lock(&s.mu);
  out.state = s.state;
  out.consecutive_failures = s.failures;
  if (s.state == PeerHealth::kEjected) {
    out.ejected_ms_left = std::max<Millis>(0, s.ejected_until - s.clock->NowMs());
  }
  out.ejections = s.ejections;
  out.timeouts = s.timeouts;
  out.unavailable = s.unavailable;
  out.probes = s.probes;
  return out;
}

}  // namespace podcache
