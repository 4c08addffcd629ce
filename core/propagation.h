#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/keyspace_stats.h"
#include "core/log.h"
#include "core/mutex.h"
#include "core/peer.h"
#include "core/scheduler.h"

namespace podcache {

// What Propagation needs from its keyspace's node.
struct PropagationEnv {
  std::string keyspace;
  PeerView* peers = nullptr;  // required
  Scheduler* scheduler = nullptr;
  const Clock* clock = nullptr;
  Millis peer_timeout_ms = 1000;    // bound of one Repair or Sync call
  Millis write_ack_wait_ms = 50;    // how long a write waits for the members' acks
  Millis repair_interval_ms = 200;  // how often undelivered drops are re-sent
  size_t repair_max_keys = 10000;   // per member; beyond, the member is told to clear its hot store
  // The local side of a Sync with a member that came back or joined: adopt its generation (if
  // newer), then forget every hot copy of the keyspace.
  std::function<void(uint64_t generation)> adopt_generation;
  std::function<void()> clear_hot;
  // True when this node holds entries of the keyspace (main or hot): a member that joins is only
  // synced with then (a node that just started has nothing stale, and calling members that are
  // still starting would put their channels into reconnect back-off).
  std::function<bool()> holds_entries;
  std::function<void(KeyspaceStats::Counter)> count;
};

// Propagation of one keyspace's writes to the other members, and invalidation repair.
//
// A write on its owner hands its hot-copy drop (or an Invalidate its generation bump) to Drop or
// AdvanceGeneration: the item joins every other member's queue, and each member gets it in one
// Repair call (the queue's keys, clear_hot and generation coalesced), one call in flight per
// member at a time. `done(acked, pending)` runs once every member that is not ejected has acked,
// or after write_ack_wait: `acked` members had dropped their copy, `pending` had not yet. A call
// that fails leaves its items in the member's queue, which is re-sent every repair_interval until
// the member answers; there is no give-up. A queue holds at most repair_max_keys keys: beyond, it
// becomes "clear your whole hot store" (an overflow). A member that leaves the ring loses its
// queue.
//
// Recovery: the repair loop also polls each member's PeerClient::health(). When a member comes
// back (suspect/ejected -> up, or a failed call to it succeeds again) or joins the ring while this
// node holds entries of the keyspace, this node calls Sync on it until it answers, adopts its
// generation if newer and clears its own hot store of the keyspace: a hot copy or fallback value
// held while the two were cut off may be stale.
//
// Thread-safe. Callbacks never run with mu_ held. Create with Start; the object lives while a call
// or the owner holds it (the loop holds a weak pointer).
class Propagation : public std::enable_shared_from_this<Propagation> {
 public:
  using AckFn = std::function<void(uint32_t acked, uint32_t pending)>;

  // Creates the object and schedules its repair loop.
  static std::shared_ptr<Propagation> Start(PropagationEnv env);

  // Tells every other member to drop its hot copy of `key`.
  void Drop(std::string_view key, AckFn done);
  // Tells every other member to move its generation to at least `generation`.
  void AdvanceGeneration(uint64_t generation, AckFn done);
  // Items (keys, clear-hot, generation) not yet acknowledged, per member known (0: none).
  std::vector<std::pair<std::string, uint64_t>> Pending() const;
  // One pass of the repair loop (what the timer runs; public for tests).
  void Tick();

  explicit Propagation(PropagationEnv env);

 private:
  struct Waiter;
  // One member's queue.
  struct Member {
    std::set<std::string> keys;
    bool clear_hot = false;
    uint64_t generation = 0;
    uint64_t enqueued = 0;   // items ever queued (the sequence a waiter waits for)
    uint64_t in_flight = 0;  // items in the call in flight
    bool sending = false;    // a Repair call is in flight
    bool failing = false;    // the last call failed: the queue waits for repair
    Millis failing_since = 0;
    PeerHealth health = PeerHealth::kUp;
    bool ticked = false;  // the repair loop has seen it (it may join through a write first)
    bool needs_sync = false;
    bool came_back = false;  // the sync is for a recovery (logged at info), not a join (debug)
    bool syncing = false;
    std::vector<std::pair<uint64_t, std::shared_ptr<Waiter>>> waiters;  // by target sequence

    uint64_t queued() const {
      return keys.size() + (clear_hot ? 1 : 0) + (generation != 0 ? 1 : 0);
    }
  };

  // Adds a key drop (`key` not empty) or a generation bump (`generation` not 0) to every other
  // member's queue, sends, and answers `done` as described above.
  void Enqueue(const std::string& key, uint64_t generation, AckFn done);
  // Adds `key` to a queue, turning it into clear-hot beyond repair_max_keys.
  void AddKey(const std::string& member, Member& m, std::string key) REQUIRES(mu_);
  // Sends a member's queue as one Repair call unless one is in flight or it is empty.
  void Send(const std::string& member);
  void Sent(const std::string& member, uint64_t sequence, std::vector<std::string> keys,
            bool clear_hot, uint64_t generation, Status status);
  void SyncWith(const std::string& member);
  void Synced(const std::string& member, StatusOr<uint64_t> generation);
  void ScheduleTick();
  std::vector<std::string> OtherMembers() const;

  const PropagationEnv env_;
  LogRateLimiter log_limiter_{10000};
  mutable Mutex mu_;
  std::map<std::string, Member> members_ GUARDED_BY(mu_);
};

}  // namespace podcache
