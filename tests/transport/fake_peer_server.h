#pragma once

// A podcache.peer.v1.Peer server in the test process, scripted by the test, for the peer client's
// tests: a real gRPC server on 127.0.0.1 and a port the kernel picks.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "podcache/peer/v1/peer.grpc.pb.h"
#include "transport/off_grpc_thread.h"

namespace podcache::transport_test {

using namespace std::chrono_literals;

// How long any wait of a transport test may take before it fails.
inline constexpr std::chrono::milliseconds kWaitLimit = 20s;

// Answers every Get with "v:<key>" (remaining TTL 1000 ms), except keys that start with
//   missing  NOT_FOUND "no such key"        bad  INVALID_ARGUMENT "bad key"
//            (the owner's answers: a call that succeeds, the code in the body)
//   big      in a GetBatch, the item is ResponseBudget::kOverBudget (alone it is answered)
// and every write with OK (Set and Delete: members_acked 2, pending 1; Sync: generation 42).
// Thread-safe.
class FakePeerServer {
 public:
  // `credentials` null: plaintext.
  explicit FakePeerServer(std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);
  ~FakePeerServer();

  const std::string& address() const { return address_; }

  // Calls that arrive from now on wait until ReleaseHeld() (or the server's end).
  void SetHold(bool hold);
  // Calls answered from now on fail as a whole with `code` (OK: answered normally). Such a failure
  // looks like one on the way (no kPeerAnswerKey trailer) unless SetMarkAnswers(true).
  void FailCallsWith(grpc::StatusCode code);
  // Whether answers carry kPeerAnswerKey, as a real podcache peer's do.
  void SetMarkAnswers(bool mark);
  // GetBatch calls answered from now on get one item fewer than they asked for.
  void SetShortBatches(bool shorten);

  // Waits until `n` calls are held; false when kWaitLimit passes first.
  bool WaitHeld(size_t n);
  // Answers every held call; returns how many.
  size_t ReleaseHeld();
  // Every call received so far, in arrival order, as "Get:k", "GetBatch:k1,k2", "Set:k", ...
  std::vector<std::string> Received() const;
  size_t held() const;

 private:
  class Service;
  // Records a call, then runs `answer` now or holds it.
  void Handle(std::string what, std::function<void()> answer);
  // Adds kPeerAnswerKey to the call's trailers when answers are marked.
  void Mark(grpc::CallbackServerContext* ctx);
  grpc::Status CallStatus() const;

  friend class Service;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  bool short_batches_ = false;
  bool mark_answers_ = false;
  grpc::StatusCode fail_ = grpc::StatusCode::OK;
  std::vector<std::string> received_;
  std::vector<std::function<void()>> held_;

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

// Drops `p` and waits until the object it pointed to is gone, wherever its last reference goes
// (a client may die on a gRPC thread when its last call ends): a test waits for its clients before
// the clock and scheduler they use are destroyed. False when kWaitLimit passes first.
template <typename T>
bool ResetAndWaitGone(std::shared_ptr<T>& p) {
  std::weak_ptr<T> weak = p;
  p.reset();
  auto until = std::chrono::steady_clock::now() + kWaitLimit;
  while (!weak.expired()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // A client that died on a gRPC thread left its channel to podcache's releaser thread.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
  return WaitOffGrpcThreadIdle(std::max<long long>(0, left.count()));
}

// Collects the callbacks of client calls, from any thread, and waits for them with a bound. The
// callbacks share its state, so one that arrives after a failed test's Answers is gone is harmless.
template <typename T>
class Answers {
 public:
  // A callback that stores its argument as the answer `name`.
  std::function<void(T)> For(std::string name) {
    return [state = state_, name](T answer) { state->Add(name, std::move(answer)); };
  }
  void Add(const std::string& name, T answer) { state_->Add(name, std::move(answer)); }
  // Waits until `n` answers have arrived; false when kWaitLimit passes first.
  bool Wait(size_t n) {
    std::unique_lock lock(state_->mu);
    return state_->cv.wait_for(lock, kWaitLimit, [&] { return state_->got.size() >= n; });
  }
  size_t size() const {
    std::lock_guard lock(state_->mu);
    return state_->got.size();
  }
  // The answers named `name` (usually one).
  std::vector<T> Of(const std::string& name) const {
    std::lock_guard lock(state_->mu);
    std::vector<T> out;
    for (const auto& [n, a] : state_->got) {
      if (n == name) out.push_back(a);
    }
    return out;
  }

 private:
  struct State {
    void Add(const std::string& name, T answer) {
      std::lock_guard lock(mu);
      got.emplace_back(name, std::move(answer));
      cv.notify_all();
    }
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::pair<std::string, T>> got;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace podcache::transport_test
