#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/latency_window.h"
#include "core/log.h"
#include "core/mutex.h"
#include "core/peer.h"
#include "core/scheduler.h"
#include "core/status.h"

namespace podcache {

struct PeerHealthOptions {
  int eject_failures = 3;            // consecutive failed calls that eject the peer
  Millis eject_time_ms = 1000;       // the first ejection; doubles per consecutive ejection ...
  Millis eject_max_time_ms = 10000;  // ... up to this; a success resets the doubling
};

// How one call to a peer ended, as far as the peer's health goes.
enum class CallOutcome {
  kAnswered,     // the peer answered, whatever it said (OK, NOT_FOUND, an error it sent)
  kTimeout,      // DEADLINE_EXCEEDED: no answer within the call's budget
  kUnavailable,  // UNAVAILABLE: connection refused or lost, no route
  kIgnored,      // neither (e.g. cancelled by the caller): health does not change
};

// Counters and state of one peer's health, for /metrics and /debug/ring.
struct PeerHealthSnapshot {
  PeerHealth state = PeerHealth::kUp;
  int consecutive_failures = 0;
  Millis ejected_ms_left = 0;  // 0 unless ejected; 0 while ejected means the probe is out
  Millis latency_p99_ms = 0;   // 0 when not known yet
  uint64_t ejections = 0;
  uint64_t timeouts = 0;  // failures by reason
  uint64_t unavailable = 0;
  uint64_t ejected_rejects = 0;  // Gets (per key) refused at once while ejected
  uint64_t probes = 0;           // Pings sent when an ejection ended
};

// Outlier detection for one peer, after Envoy's: the state machine behind PeerClient::health().
//
//   up --failure--> suspect --success--> up
//   suspect --eject_failures consecutive failures--> ejected (for eject_time_ms << (n - 1), capped
//     at eject_max_time_ms, n = consecutive ejections; a success resets n)
//   ejected --ejection over--> one probe: success -> up, failure -> ejected again, doubled
//
// A failure is a call that ended UNAVAILABLE, or DEADLINE_EXCEEDED with a real budget: at least
// twice the peer's observed p99 latency (any budget while no p99 is known), so a caller's own tiny
// deadline never ejects a healthy peer. Any answer is a success. While ejected, Gets are refused
// at once (CheckGet); other calls are still sent and their outcome counts like any other (a
// success ends the ejection). When the ejection time is over, the tracker calls `probe` once on
// `scheduler`'s thread; without a scheduler, calls are let through again instead and the first
// outcome decides. Logs one line per state change ("peer state"). Thread-safe; never calls `probe`
// or logs with its lock held.
class PeerHealthTracker {
 public:
  // Sends one probe of the peer and calls `done` exactly once with how it ended (any thread).
  using ProbeFn = std::function<void(std::function<void(CallOutcome, std::string_view error)>)>;

  // `clock` and `scheduler` (may be null) must outlive the tracker and its probes. `probe` may be
  // null: then the ejection simply ends when its time is over.
  PeerHealthTracker(std::string peer, PeerHealthOptions options, const Clock* clock,
                    Scheduler* scheduler, ProbeFn probe);
  ~PeerHealthTracker();
  PeerHealthTracker(const PeerHealthTracker&) = delete;
  PeerHealthTracker& operator=(const PeerHealthTracker&) = delete;

  // OK when Gets may be sent now; else UNAVAILABLE naming the peer, the time left and the
  // failures, with `keys` refusals counted.
  Status CheckGet(size_t keys = 1);
  // Records how a call ended: `budget_ms` is the time it was given (deadline - start),
  // `latency_ms` how long an answered call took, `error` the failure's message (for the log).
  void Record(CallOutcome outcome, Millis budget_ms, Millis latency_ms, std::string_view error);

  PeerHealth health() const;
  // The p99 of recent answered calls' latencies; 0 while fewer than 20 are known.
  Millis LatencyP99Ms() const;
  // The clock time of the last answered call (0: none yet).
  Millis LastAnswerMs() const { return shared_->last_answer_ms.load(std::memory_order_relaxed); }
  PeerHealthSnapshot Snapshot() const;
  const std::string& peer() const { return shared_->peer; }

  // Whether a call that timed out after `budget_ms` counts as a failure with this p99 (0: unknown).
  static bool TimeoutCounts(Millis budget_ms, Millis p99_ms) {
    return p99_ms <= 0 || budget_ms >= 2 * p99_ms;
  }

 private:
  // What the scheduled probe task shares with the tracker: it holds a weak_ptr, so a tracker
  // destroyed meanwhile turns the task into a no-op.
  struct Shared {
    Shared(std::string p, PeerHealthOptions o, const Clock* c, Scheduler* s, ProbeFn f)
        : peer(std::move(p)),
          options(o),
          clock(c),
          scheduler(s),
          probe(std::move(f)),
          latencies(c) {}
    const std::string peer;
    const PeerHealthOptions options;
    const Clock* const clock;
    Scheduler* const scheduler;
    const ProbeFn probe;
    LatencyWindow latencies;

    mutable Mutex mu;
    PeerHealth state GUARDED_BY(mu) = PeerHealth::kUp;
    int failures GUARDED_BY(mu) = 0;          // consecutive
    int ejections_in_row GUARDED_BY(mu) = 0;  // since the last success
    Millis ejected_until GUARDED_BY(mu) = 0;
    uint64_t ejections GUARDED_BY(mu) = 0;
    uint64_t timeouts GUARDED_BY(mu) = 0;
    uint64_t unavailable GUARDED_BY(mu) = 0;
    uint64_t probes GUARDED_BY(mu) = 0;
    std::atomic<uint64_t> ejected_rejects{0};
    std::atomic<Millis> last_answer_ms{0};  // clock time of the last answered call; 0 = none
    LogRateLimiter suspect_log{1000};  // up <-> suspect flapping is logged at most once a second

    // Ejects the peer (again) from now; returns the ejection's length.
    Millis EjectLocked(Millis now) REQUIRES(mu);
  };
  // A state change to log and, when an ejection began, when to probe.
  struct Change {
    PeerHealth from = PeerHealth::kUp, to = PeerHealth::kUp;
    int failures = 0;
    Millis ejected_ms = 0;
    bool schedule_probe = false;
    Millis probe_at = 0;
  };
  static void Apply(const std::shared_ptr<Shared>& shared, const Change& change,
                    std::string_view error);
  static void RecordIn(const std::shared_ptr<Shared>& shared, CallOutcome outcome, Millis budget_ms,
                       Millis latency_ms, std::string_view error);
  static void RunProbe(const std::weak_ptr<Shared>& weak);

  const std::shared_ptr<Shared> shared_;
};

}  // namespace podcache
