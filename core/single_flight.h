#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/mutex.h"
#include "core/scheduler.h"
#include "core/status.h"

namespace podcache {

// Merges concurrent requests for one key into one flight, without blocking any thread.
//
// The first Do() for a key starts the work; later Do()s for the same key join it. When the work
// calls its Done, every waiter still waiting gets the same Result. Each waiter has its own
// deadline: when it passes, that waiter alone gets a DEADLINE_EXCEEDED result and leaves, while the
// work goes on. The work itself runs under the flight's deadline (chosen by the caller that starts
// it, not inherited from any waiter): if Done is not called by then, every waiter gets
// DEADLINE_EXCEEDED and a late Done is ignored. If starting the work throws, every waiter gets an
// INTERNAL error. A finished flight (success or not) is forgotten at once, so the next Do() for the
// key starts new work.
//
// Thread-safe. Callbacks run exactly once each, without internal locks held, on the thread that
// calls Done (or Do, if the work completes synchronously) or on the scheduler's thread for
// deadlines. The object may be destroyed while flights are pending: they complete normally.
template <typename Result>
class SingleFlight {
 public:
  using Callback = std::function<void(const Result&)>;
  using Done = std::function<void(Result)>;
  using Work = std::function<void(Done)>;
  using ErrorFn = std::function<Result(Status)>;

  // `make_error` turns a Status into the Result waiters receive on deadlines and exceptions.
  SingleFlight(Scheduler* scheduler, ErrorFn make_error)
      : state_(std::make_shared<State>(scheduler, std::move(make_error))) {}

  // Joins the flight for `key`, or starts one by calling `work` (on this thread). `callback` gets
  // the result, or DEADLINE_EXCEEDED at `waiter_deadline`. `flight_deadline` bounds new work only.
  // Returns true when this call started the work.
  bool Do(std::string_view key, Millis waiter_deadline, Millis flight_deadline, Work work,
          Callback callback) {
    std::shared_ptr<Flight> flight;
    bool started = false;
    {
      MutexLock lock(&state_->mu);
      auto it = state_->flights.find(std::string(key));
      if (it != state_->flights.end()) {
        flight = it->second;
      } else {
        flight = std::make_shared<Flight>();
        flight->key = std::string(key);
        state_->flights.emplace(flight->key, flight);
        started = true;
      }
      uint64_t id = flight->next_waiter++;
      Scheduler::TaskId timer = 0;
      if (waiter_deadline != kNoDeadline) {
        timer = state_->scheduler->RunAt(waiter_deadline,
                                         [weak = std::weak_ptr<State>(state_), flight, id] {
                                           if (auto s = weak.lock()) s->ExpireWaiter(flight, id);
                                         });
      }
      flight->waiters.push_back({id, std::move(callback), timer});
      if (started) state_->ArmFlightTimer(flight, flight_deadline);
    }
    if (!started) return false;
    Run(flight, std::move(work));
    return true;
  }

  // Starts `work` as the flight for `key` with no waiter, unless a flight for `key` is already
  // on (then does nothing): a background refresh that later Do()s for the key join. Returns true
  // when it started the work.
  bool StartIfIdle(std::string_view key, Millis flight_deadline, Work work) {
    auto flight = std::make_shared<Flight>();
    {
      MutexLock lock(&state_->mu);
      flight->key = std::string(key);
      if (!state_->flights.emplace(flight->key, flight).second) return false;
      state_->ArmFlightTimer(flight, flight_deadline);
    }
    Run(flight, std::move(work));
    return true;
  }

  // Waiters currently attached to the flight for `key` (0 if none).
  size_t Waiters(std::string_view key) const {
    MutexLock lock(&state_->mu);
    auto it = state_->flights.find(std::string(key));
    return it == state_->flights.end() ? 0 : it->second->waiters.size();
  }
  size_t InFlight() const {
    MutexLock lock(&state_->mu);
    return state_->flights.size();
  }

 private:
  struct Waiter {
    uint64_t id;
    Callback callback;
    Scheduler::TaskId timer;
  };
  // A flight's mutable fields are guarded by its State's mu (which the analysis cannot name here).
  struct Flight {
    std::string key;
    std::vector<Waiter> waiters;
    uint64_t next_waiter = 0;
    Scheduler::TaskId timer = 0;
    bool done = false;
  };
  struct State : std::enable_shared_from_this<State> {
    State(Scheduler* s, ErrorFn e) : scheduler(s), make_error(std::move(e)) {}

    void Complete(const std::shared_ptr<Flight>& flight, Result result) {
      std::vector<Waiter> waiters;
      {
        MutexLock lock(&mu);
        if (flight->done) return;  // a late Done after the deadline, or a second Done
        flight->done = true;
        auto it = flights.find(flight->key);
        if (it != flights.end() && it->second == flight) flights.erase(it);
        waiters.swap(flight->waiters);
        if (flight->timer) scheduler->Cancel(flight->timer);
        for (const Waiter& w : waiters) {
          if (w.timer) scheduler->Cancel(w.timer);
        }
      }
      for (Waiter& w : waiters) w.callback(result);
    }

    void ArmFlightTimer(const std::shared_ptr<Flight>& flight, Millis deadline) REQUIRES(mu) {
      if (deadline == kNoDeadline) return;
      flight->timer = scheduler->RunAt(
          deadline, [weak = std::weak_ptr<State>(this->shared_from_this()), flight] {
            if (auto s = weak.lock()) {
              s->Complete(flight, s->make_error(DeadlineExceededError(
                                      "the load did not finish within its deadline")));
            }
          });
    }

    void ExpireWaiter(const std::shared_ptr<Flight>& flight, uint64_t id) {
      Callback cb;
      {
        MutexLock lock(&mu);
        if (flight->done) return;
        auto& ws = flight->waiters;
        for (auto it = ws.begin(); it != ws.end(); ++it) {
          if (it->id == id) {
            cb = std::move(it->callback);
            ws.erase(it);
            break;
          }
        }
      }
      if (cb) cb(make_error(DeadlineExceededError("deadline passed while waiting for the load")));
    }

    Scheduler* scheduler;
    ErrorFn make_error;
    mutable Mutex mu;
    std::unordered_map<std::string, std::shared_ptr<Flight>> flights GUARDED_BY(mu);
  };

  void Run(const std::shared_ptr<Flight>& flight, Work work) {
    Done done = [s = state_, flight](Result r) { s->Complete(flight, std::move(r)); };
    try {
      work(std::move(done));
    } catch (const std::exception& e) {
      state_->Complete(flight,
                       state_->make_error(InternalError(std::string("load threw: ") + e.what())));
    } catch (...) {
      state_->Complete(flight,
                       state_->make_error(InternalError("load threw a non-standard exception")));
    }
  }

  std::shared_ptr<State> state_;
};

}  // namespace podcache
