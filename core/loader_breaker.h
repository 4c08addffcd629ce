#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/clock.h"
#include "core/mutex.h"
#include "core/status.h"

namespace podcache {

// A keyspace's loader circuit breaker: protects a struggling data source from a node's misses.
//
//   closed: every load goes through; `failures` consecutive failed loads open it.
//   open: loads are refused at once for the open time (first `open_ms`, doubling each time a
//     probe fails, up to `max_open_ms`).
//   half-open: once the open time has passed, one load (the probe) goes through while the others
//     are still refused; its success closes the breaker (and resets the open time), its failure
//     opens it again. A probe that reports nothing within `probe_timeout_ms` is replaced by the
//     next load.
//
// What counts as a failure is the caller's choice (Group: loader errors and timeouts, not
// NOT_FOUND, not load-queue refusals). A success while open closes it too: the source answers.
// Thread-safe; time comes from the Clock, so tests drive it with a FakeClock.
class LoaderBreaker {
 public:
  struct Options {
    int failures = 5;  // 0 = never open
    Millis open_ms = 1000;
    Millis max_open_ms = 30000;
    Millis probe_timeout_ms = 5000;
  };
  enum class State { kClosed, kOpen, kHalfOpen };
  // What Admit decided for one load.
  struct Admission {
    bool allowed = true;
    bool probe = false;      // the half-open probe: report its outcome (or AbandonProbe)
    Millis retry_in_ms = 0;  // when refused: time until the next probe may go
    int failures = 0;        // when refused: the consecutive failures that opened it
  };
  // A change of state that Record* caused, for the caller to log.
  struct Transition {
    enum Kind { kNone, kOpened, kClosed } kind = kNone;
    int failures = 0;        // consecutive failures so far
    Millis open_ms = 0;      // kOpened: for how long; kClosed: the last open time
    std::string last_error;  // the last failure's status, at most kMaxErrorBytes
  };
  static constexpr size_t kMaxErrorBytes = 256;

  LoaderBreaker(const Options& options, const Clock* clock);

  // Whether a load may start now.
  Admission Admit();
  // The outcome of a load that Admit allowed.
  Transition RecordSuccess();
  Transition RecordFailure(const Status& error);
  // The probe never ran (e.g. the load queue refused it): the next load may probe.
  void AbandonProbe();

  // True when Admit would refuse a load now (it changes nothing): a caller that can do without
  // the load (a stale-while-revalidate refresh) skips it.
  bool Refusing() const;

  State state() const;
  // Open or half-open: loads are being refused.
  bool open() const { return state() != State::kClosed; }

 private:
  const Options options_;
  const Clock* const clock_;
  mutable Mutex mu_;
  State state_ GUARDED_BY(mu_) = State::kClosed;
  int consecutive_failures_ GUARDED_BY(mu_) = 0;
  Millis open_ms_ GUARDED_BY(mu_) = 0;        // the current (or last) open time
  Millis open_until_ GUARDED_BY(mu_) = 0;     // kOpen: when the next probe may go
  Millis probe_started_ GUARDED_BY(mu_) = 0;  // kHalfOpen: when the probe went
  bool probe_in_flight_ GUARDED_BY(mu_) = false;
  std::string last_error_ GUARDED_BY(mu_);
};

}  // namespace podcache
