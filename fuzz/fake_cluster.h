#pragma once

// What the gRPC fuzz targets (peer_service, cache_service) serve from: real Groups on a real
// ThreadScheduler, in a two-member cluster whose other member and whose data source are small
// deterministic fakes (as in tests/core/group_test.cc), so every request path of a Group runs:
// local loads, fetches from the owner, hot copies, broadcasts of drops and generations.
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/group.h"
#include "core/ring.h"
#include "core/scheduler.h"
#include "fuzz/fuzz_check.h"

namespace podcache::fuzz {

inline constexpr char kSelf[] = "10.0.0.1:7071";
inline constexpr char kOther[] = "10.0.0.2:7071";

// The application's data source. Answers "value:<key>" at once, except for keys that start with
//   missing  NOT_FOUND          fail  UNAVAILABLE
//   slow     the answer 20 ms later, from the scheduler's thread
//   ttl      a value with a 1 ms TTL
class FakeLoader final : public Loader {
 public:
  explicit FakeLoader(Scheduler* scheduler) : scheduler_(scheduler) {}
  void Load(std::string_view, std::string_view key, Millis, DoneFn done) override {
    StatusOr<Loaded> answer = Answer(key);
    if (key.starts_with("slow")) {
      scheduler_->RunAfter(20, [done = std::move(done), answer]() mutable { done(answer); });
      return;
    }
    done(std::move(answer));
  }

 private:
  static StatusOr<Loaded> Answer(std::string_view key) {
    if (key.starts_with("missing")) return NotFoundError("no such row");
    if (key.starts_with("fail")) return UnavailableError("database down");
    return Loaded{"value:" + std::string(key), key.starts_with("ttl") ? 1 : -1};
  }
  Scheduler* scheduler_;
};

// The other member: answers every call at once. Keys that start with "down" fail as an
// unreachable peer would.
class FakePeerClient final : public PeerClient {
 public:
  void Get(std::string_view, std::string_view key, uint64_t, Millis, ValueFn done) override {
    if (key.starts_with("down")) return done(UnavailableError("connection refused"));
    if (key.starts_with("missing")) return done(PeerValue::Outcome(NotFoundError("no such row")));
    if (key.starts_with("fail")) return done(PeerValue::Outcome(UnavailableError("database down")));
    done(PeerValue{"peer:" + std::string(key), 0});
  }
  void GetBatch(std::string_view keyspace, std::span<const std::string_view> keys,
                uint64_t ring_fingerprint, Millis deadline, BatchItemFn done) override {
    for (size_t i = 0; i < keys.size(); ++i) {
      Get(keyspace, keys[i], ring_fingerprint, deadline,
          [&done, i](StatusOr<PeerValue> r) { done(i, std::move(r)); });
    }
  }
  void Set(std::string_view, std::string_view key, std::string_view, Millis, Millis,
           WriteFn done) override {
    done(WriteResult{Reply(key)});
  }
  void Delete(std::string_view, std::string_view key, Millis, WriteFn done) override {
    done(WriteResult{Reply(key)});
  }
  void Repair(std::string_view, std::span<const std::string> keys, bool, uint64_t, Millis,
              StatusFn done) override {
    for (const std::string& key : keys) {
      if (Status s = Reply(key); !s.ok()) return done(s);
    }
    done(OkStatus());
  }
  void Sync(std::string_view, Millis, GenerationFn done) override { done(uint64_t{0}); }

 private:
  static Status Reply(std::string_view key) {
    return key.starts_with("down") ? UnavailableError("connection refused") : OkStatus();
  }
};

class FakeView final : public PeerView {
 public:
  RingPtr Ring() const override { return ring_; }
  const std::string& Self() const override { return self_; }
  std::shared_ptr<PeerClient> Client(const std::string& member) override {
    return member == kOther ? other_ : nullptr;
  }

 private:
  const std::string self_ = kSelf;
  const RingPtr ring_ = Ring::Build({kSelf, kOther});
  const std::shared_ptr<PeerClient> other_ = std::make_shared<FakePeerClient>();
};

// The keyspaces every fuzzed request may name: "users" is read-through (FakeLoader) with a
// negative TTL, "sessions" cache-aside with a max TTL. Small, so that evictions happen too.
struct FakeCluster {
  FakeCluster() {
    scheduler.Start();
    GroupEnv env;
    env.peers = &view;
    env.scheduler = &scheduler;
    env.clock = SystemClock::Get();
    env.peer_timeout_ms = 500;
    env.repair_interval_ms = 10;
    KeyspaceOptions users;
    users.name = "users";
    users.max_bytes = 256 << 10;
    users.max_value_bytes = 16 << 10;
    users.max_key_bytes = 256;
    users.negative_ttl_ms = 1000;
    users.load_timeout_ms = 1000;
    users.hot_promote_hits = 2;
    KeyspaceOptions sessions = users;
    sessions.name = "sessions";
    sessions.negative_ttl_ms = 0;
    sessions.max_ttl_ms = 3600000;
    sessions.eviction = EvictionPolicy::kWTinyLfu;
    auto u = Group::Create(users, std::make_shared<FakeLoader>(&scheduler), env);
    auto s = Group::Create(sessions, nullptr, env);
    FUZZ_CHECK(u.ok() && s.ok());
    groups["users"] = u.value();
    groups["sessions"] = s.value();
  }

  std::shared_ptr<Group> Find(std::string_view name) const {
    auto it = groups.find(std::string(name));
    return it == groups.end() ? nullptr : it->second;
  }

  ThreadScheduler scheduler;
  FakeView view;
  std::map<std::string, std::shared_ptr<Group>> groups;
};

}  // namespace podcache::fuzz
