#pragma once

// Test doubles for Group: a loader, and a cluster of Groups on one fake clock whose peer clients
// call the target node's Group directly (tests/core/group*_test.cc).
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/group.h"
#include "core/hash.h"
#include "testing/manual_scheduler.h"

namespace podcache::group_test {

// A loader that answers "<key>@<node>" at once, or holds calls until the test releases them.
class FakeLoader : public Loader {
 public:
  explicit FakeLoader(std::string node) : node_(std::move(node)) {}
  void Load(std::string_view, std::string_view key, Millis, DoneFn done) override {
    std::lock_guard lock(mu_);
    ++calls;
    ++per_key[std::string(key)];
    if (hold) {
      pending.emplace_back(std::string(key), std::move(done));
      return;
    }
    done(Answer(key));
  }
  StatusOr<Loaded> Answer(std::string_view key) {
    if (missing.count(std::string(key))) return NotFoundError("no such row");
    if (failing) return UnavailableError("database down");
    return Loaded{std::string(key) + "@" + node_, ttl_ms};
  }
  void ReleaseAll() {
    std::vector<std::pair<std::string, DoneFn>> p;
    {
      std::lock_guard lock(mu_);
      p.swap(pending);
    }
    for (auto& [key, done] : p) done(Answer(key));
  }

  std::mutex mu_;
  std::string node_;
  int calls = 0;
  std::map<std::string, int> per_key;
  std::set<std::string> missing;
  bool failing = false;
  bool hold = false;
  Millis ttl_ms = -1;
  std::vector<std::pair<std::string, DoneFn>> pending;
};

struct FakeNode;

class FakeCluster;

// Calls the target node's group directly, marked as from a peer, unless the target is down.
class FakePeerClient : public PeerClient {
 public:
  explicit FakePeerClient(FakeNode* target) : target_(target) {}
  void Get(std::string_view ks, std::string_view key, uint64_t, Millis, ValueFn done) override;
  // Recorded in the target's batches_received; answered by the target's GetMany.
  void GetBatch(std::string_view ks, std::span<const std::string_view> keys, uint64_t, Millis,
                BatchItemFn done) override;
  void Set(std::string_view, std::string_view key, std::string_view value, Millis ttl, Millis,
           WriteFn done) override;
  void Delete(std::string_view, std::string_view key, Millis, WriteFn done) override;
  // Recorded in the target's repairs_received; fails while the target is down or has
  // drop_hot_failures_left, waits in held_drops while it has hold_drops.
  void Repair(std::string_view, std::span<const std::string> keys, bool clear_hot,
              uint64_t generation, Millis, StatusFn done) override;
  void Sync(std::string_view, Millis, GenerationFn done) override;
  // The target's `health`, as the test sets it (see FakeNode::Cut).
  PeerHealth health() const override;
  Millis LatencyP99Ms() const override;
  Millis LastAnswerMs() const override;

 private:
  FakeNode* target_;
};

class FakeView : public PeerView {
 public:
  FakeView(FakeCluster* cluster, std::string self) : cluster_(cluster), self_(std::move(self)) {}
  RingPtr Ring() const override;
  const std::string& Self() const override { return self_; }
  std::shared_ptr<PeerClient> Client(const std::string& member) override;

 private:
  FakeCluster* cluster_;
  std::string self_;
};

struct FakeNode {
  std::string name;
  std::unique_ptr<FakeView> view;
  std::shared_ptr<FakeLoader> loader;
  std::shared_ptr<Group> group;
  bool down = false;  // calls to it fail at once (connection refused)
  // Down and seen as such: calls fail and its clients report it ejected (Cut(false) undoes both).
  void Cut(bool cut = true) {
    down = cut;
    health = cut ? PeerHealth::kEjected : PeerHealth::kUp;
  }
  int drop_hot_received = 0;
  int gets_received = 0;                // single peer Gets
  std::vector<Millis> get_deadlines;    // the deadline of each peer Get
  std::vector<Millis> batch_deadlines;  // ... and of each GetBatch
  bool hold_gets = false;  // peer Gets wait until the test answers (held_gets) or fails them
  std::vector<std::function<void()>> held_gets;            // answers each held Get
  std::vector<PeerClient::ValueFn> held_get_dones;         // ... or fails it
  PeerHealth health = PeerHealth::kUp;                     // as its clients see it
  Millis p99_ms = 0;                                       // LatencyP99Ms of its clients
  Millis last_answer_ms = 0;                               // LastAnswerMs of its clients
  std::vector<std::vector<std::string>> batches_received;  // the keys of each GetBatch
  bool hold_batches = false;  // GetBatch calls wait in held_batches until the test answers
  std::vector<std::function<void()>> held_batches;
  int drop_hot_failures_left = 0;  // the next N Repair calls fail
  bool hold_drops = false;         // Repair calls wait in held_drops until the test answers
  std::vector<std::function<void(Status)>> held_drops;  // answer OK: applied; else: failed
  struct RepairCall {
    std::vector<std::string> keys;
    bool clear_hot;
    uint64_t generation;
  };
  std::vector<RepairCall> repairs_received;  // the Repair calls applied here
  int syncs_received = 0;
};

// A GroupEnv whose only setting is peer_hedge_delay_ms (for FakeCluster's `base`).
inline GroupEnv HedgeDelay(Millis ms) {
  GroupEnv env;
  env.peer_hedge_delay_ms = ms;
  return env;
}

class FakeCluster {
 public:
  // `base` supplies the GroupEnv's settings (write_ack_wait_ms, repair_*, peer_hedge_delay_ms);
  // peers, scheduler and clock are the cluster's.
  FakeCluster(int n, KeyspaceOptions options, GroupEnv base = {}) : scheduler(&clock) {
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) names.push_back("10.0.0." + std::to_string(i + 1) + ":7071");
    ring = Ring::Build(names);
    for (const auto& name : names) {
      auto node = std::make_unique<FakeNode>();
      node->name = name;
      node->view = std::make_unique<FakeView>(this, name);
      node->loader = std::make_shared<FakeLoader>(name);
      GroupEnv env = base;
      env.peers = node->view.get();
      env.scheduler = &scheduler;
      env.clock = &clock;
      auto g = Group::Create(options, node->loader, env);
      REQUIRE(g.ok());
      node->group = g.value();
      nodes.push_back(std::move(node));
    }
  }
  FakeNode* Node(const std::string& name) {
    for (auto& n : nodes) {
      if (n->name == name) return n.get();
    }
    return nullptr;
  }
  FakeNode* Owner(const std::string& key) { return Node(ring->OwnerOfKey(key)); }
  // A key owned by node `i`.
  std::string KeyOwnedBy(int i, const std::string& prefix = "key") {
    for (int k = 0;; ++k) {
      std::string key = prefix + std::to_string(k);
      if (ring->OwnerOfKey(key) == nodes[i]->name) return key;
    }
  }
  int TotalLoads() {
    int total = 0;
    for (auto& n : nodes) total += n->loader->calls;
    return total;
  }

  FakeClock clock;
  ManualScheduler scheduler;
  RingPtr ring;
  std::vector<std::unique_ptr<FakeNode>> nodes;
};

inline RingPtr FakeView::Ring() const { return cluster_->ring; }
inline std::shared_ptr<PeerClient> FakeView::Client(const std::string& member) {
  FakeNode* n = cluster_->Node(member);
  return n ? std::make_shared<FakePeerClient>(n) : nullptr;
}

// What the owner's transport answers for a GetResult: its errors travel as its answer.
inline PeerValue AsPeerValue(const GetResult& r) {
  if (!r.status.ok()) return PeerValue::Outcome(r.status);
  return PeerValue{std::string(r.value.value()), r.remaining_ttl_ms,
                   r.source == ValueSource::kStale};
}

inline void FakePeerClient::Get(std::string_view, std::string_view key, uint64_t, Millis deadline,
                                ValueFn done) {
  if (target_->down) return done(UnavailableError("connection refused"));
  ++target_->gets_received;
  target_->get_deadlines.push_back(deadline);
  FakeNode* target = target_;
  auto answer = [target, key = std::string(key), done] {
    GetOptions o;
    o.from_peer = true;
    target->group->Get(key, o, [done](const GetResult& r) { done(AsPeerValue(r)); });
  };
  if (target_->hold_gets) {
    target_->held_gets.push_back(answer);
    target_->held_get_dones.push_back(done);
    return;
  }
  answer();
}
inline void FakePeerClient::GetBatch(std::string_view, std::span<const std::string_view> keys,
                                     uint64_t, Millis deadline, BatchItemFn done) {
  if (target_->down) {
    for (size_t i = 0; i < keys.size(); ++i) done(i, UnavailableError("connection refused"));
    return;
  }
  std::vector<std::string> copy(keys.begin(), keys.end());
  target_->batches_received.push_back(copy);
  target_->batch_deadlines.push_back(deadline);
  FakeNode* target = target_;
  auto answer = [target, copy, done] {
    std::vector<std::string_view> views(copy.begin(), copy.end());
    GetOptions o;
    o.from_peer = true;
    target->group->GetMany(
        views, o, [done](size_t i, const GetResult& r) { done(i, AsPeerValue(r)); }, [] {});
  };
  if (target_->hold_batches) {
    target_->held_batches.push_back(answer);
    return;
  }
  answer();
}
inline void FakePeerClient::Set(std::string_view, std::string_view key, std::string_view value,
                                Millis ttl, Millis, WriteFn done) {
  if (target_->down) return done(WriteResult{UnavailableError("connection refused")});
  target_->group->Set(key, value, ttl, WriteOptions{kNoDeadline, true}, done);
}
inline void FakePeerClient::Delete(std::string_view, std::string_view key, Millis, WriteFn done) {
  if (target_->down) return done(WriteResult{UnavailableError("connection refused")});
  target_->group->Delete(key, WriteOptions{kNoDeadline, true}, done);
}
inline void FakePeerClient::Repair(std::string_view, std::span<const std::string> keys,
                                   bool clear_hot, uint64_t generation, Millis, StatusFn done) {
  if (target_->down) return done(UnavailableError("connection refused"));
  if (target_->drop_hot_failures_left > 0) {
    --target_->drop_hot_failures_left;
    return done(UnavailableError("flaky"));
  }
  FakeNode* target = target_;
  FakeNode::RepairCall call{std::vector<std::string>(keys.begin(), keys.end()), clear_hot,
                            generation};
  auto apply = [target, call, done](Status answer) {
    if (!answer.ok()) return done(answer);
    target->repairs_received.push_back(call);
    target->drop_hot_received += static_cast<int>(call.keys.size());
    std::vector<std::string_view> keys(call.keys.begin(), call.keys.end());
    done(target->group->Repair(keys, call.clear_hot, call.generation));
  };
  if (target_->hold_drops) {
    target_->held_drops.push_back(std::move(apply));
    return;
  }
  apply(OkStatus());
}
inline void FakePeerClient::Sync(std::string_view, Millis, GenerationFn done) {
  if (target_->down) return done(UnavailableError("connection refused"));
  ++target_->syncs_received;
  done(target_->group->generation());
}
inline PeerHealth FakePeerClient::health() const { return target_->health; }
inline Millis FakePeerClient::LatencyP99Ms() const { return target_->p99_ms; }
inline Millis FakePeerClient::LastAnswerMs() const { return target_->last_answer_ms; }

inline KeyspaceOptions Options() {
  KeyspaceOptions o;
  o.name = "users";
  o.max_bytes = 4 << 20;
  return o;
}

// One node without peers, on a fake clock, with a FakeLoader.
struct SoloNode {
  std::shared_ptr<Group> Start(const KeyspaceOptions& options = Options()) {
    return StartWith(options, loader);
  }
  // `custom` may be null: a cache-aside keyspace.
  std::shared_ptr<Group> StartWith(const KeyspaceOptions& options, std::shared_ptr<Loader> custom) {
    GroupEnv env{nullptr, &scheduler, &clock};
    return Group::Create(options, std::move(custom), env).value();
  }
  FakeClock clock;
  ManualScheduler scheduler{&clock};
  std::shared_ptr<FakeLoader> loader = std::make_shared<FakeLoader>("solo");
};

// One node without peers on a running ThreadScheduler and the system clock, for the tests that
// call a Group from many threads.
struct ThreadedNode {
  ThreadedNode() { scheduler.Start(); }
  ~ThreadedNode() { scheduler.Stop(); }
  ThreadScheduler scheduler;
  std::shared_ptr<FakeLoader> loader = std::make_shared<FakeLoader>("solo");
  std::shared_ptr<Group> group =
      Group::Create(Options(), loader, GroupEnv{nullptr, &scheduler, SystemClock::Get()}).value();
};

// What a GetMany answered: each key's result, how often each key's callback ran, and how many
// key callbacks had run when all_done ran.
struct ManyResult {
  std::vector<GetResult> results;
  std::vector<int> calls;
  int all_done = 0;
  int items_when_done = -1;
};

inline std::shared_ptr<ManyResult> StartMany(Group& g, const std::vector<std::string>& keys,
                                             const GetOptions& opts = {}) {
  auto out = std::make_shared<ManyResult>();
  out->results.resize(keys.size());
  out->calls.resize(keys.size());
  std::vector<std::string_view> views(keys.begin(), keys.end());
  g.GetMany(
      views, opts,
      [out](size_t i, const GetResult& r) {
        out->results.at(i) = r;
        ++out->calls.at(i);
      },
      [out] {
        ++out->all_done;
        out->items_when_done = 0;
        for (int c : out->calls) out->items_when_done += c;
      });
  return out;
}

// `n` keys owned by node `i`, named prefix + a number.
inline std::vector<std::string> KeysOwnedBy(FakeCluster& c, int i, int n,
                                            const std::string& prefix) {
  std::vector<std::string> keys;
  for (int k = 0; static_cast<int>(keys.size()) < n; ++k) {
    std::string key = prefix + std::to_string(k);
    if (c.ring->OwnerOfKey(key) == c.nodes[i]->name) keys.push_back(key);
  }
  return keys;
}

}  // namespace podcache::group_test
