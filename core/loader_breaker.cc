#include "core/loader_breaker.h"

#include <algorithm>

namespace podcache {

LoaderBreaker::LoaderBreaker(const Options& options, const Clock* clock)
    : options_(options), clock_(clock) {}

LoaderBreaker::Admission LoaderBreaker::Admit() {
  Admission a;
  if (options_.failures <= 0) return a;
  Millis now = clock_->NowMs();
  MutexLock lock(&mu_);
  if (state_ == State::kClosed) return a;
  if (state_ == State::kOpen && now >= open_until_) state_ = State::kHalfOpen;
  if (state_ == State::kHalfOpen &&
      (!probe_in_flight_ || now - probe_started_ >= options_.probe_timeout_ms)) {
    probe_in_flight_ = true;
    probe_started_ = now;
    a.probe = true;
    return a;
  }
  a.allowed = false;
  a.failures = consecutive_failures_;
  a.retry_in_ms = state_ == State::kOpen
                      ? open_until_ - now
                      : std::max<Millis>(0, probe_started_ + options_.probe_timeout_ms - now);
  return a;
}

LoaderBreaker::Transition LoaderBreaker::RecordSuccess() {
  Transition t;
  if (options_.failures <= 0) return t;
  MutexLock lock(&mu_);
  if (state_ != State::kClosed) {
    t.kind = Transition::kClosed;
    t.failures = consecutive_failures_;
    t.open_ms = open_ms_;
    t.last_error = last_error_;
  }
  state_ = State::kClosed;
  consecutive_failures_ = 0;
  open_ms_ = 0;
  probe_in_flight_ = false;
  return t;
}

LoaderBreaker::Transition LoaderBreaker::RecordFailure(const Status& error) {
  Transition t;
  if (options_.failures <= 0) return t;
  Millis now = clock_->NowMs();
  MutexLock lock(&mu_);
  if (state_ == State::kOpen) return t;  // a load admitted before it opened: already counted
  last_error_ = error.ToString();
  if (last_error_.size() > kMaxErrorBytes) last_error_.resize(kMaxErrorBytes);  // for the log line
  if (consecutive_failures_ < INT32_MAX) ++consecutive_failures_;
  if (state_ == State::kClosed && consecutive_failures_ < options_.failures) return t;
  // The threshold was reached, or the half-open probe (or a straggler) failed: open, for twice
  // as long as last time when it had been open already.
  open_ms_ = open_ms_ == 0 ? options_.open_ms : std::min(open_ms_ * 2, options_.max_open_ms);
  open_until_ = SaturatingAdd(now, open_ms_);
  state_ = State::kOpen;
  probe_in_flight_ = false;
  t.kind = Transition::kOpened;
  t.failures = consecutive_failures_;
  t.open_ms = open_ms_;
  t.last_error = last_error_;
  return t;
}

bool LoaderBreaker::Refusing() const {
  if (options_.failures <= 0) return false;
  Millis now = clock_->NowMs();
  MutexLock lock(&mu_);
  switch (state_) {
    case State::kClosed:
      return false;
    case State::kOpen:
      return now < open_until_;
    case State::kHalfOpen:
      return probe_in_flight_ && now - probe_started_ < options_.probe_timeout_ms;
  }
  return false;
}

void LoaderBreaker::AbandonProbe() {
  MutexLock lock(&mu_);
  probe_in_flight_ = false;
}

LoaderBreaker::State LoaderBreaker::state() const {
  MutexLock lock(&mu_);
  return state_;
}

}  // namespace podcache
