#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/async_limiter.h"
#include "core/hot_tracker.h"
#include "core/keyspace_options.h"
#include "core/keyspace_stats.h"
#include "core/loader.h"
#include "core/peer.h"
#include "core/propagation.h"
#include "core/scheduler.h"
#include "core/single_flight.h"
#include "core/store.h"
#include "core/striped_counters.h"

namespace podcache {

// Where a Get's value came from.
enum class ValueSource { kNone, kMain, kHot, kPeer, kLoader };
std::string_view ValueSourceName(ValueSource s);

struct GetResult {
  Status status;  // OK, NOT_FOUND, or the error that stopped the fill
  ValueRef value;
  ValueSource source = ValueSource::kNone;
  Millis remaining_ttl_ms = 0;  // 0 = no expiry
};

struct GetOptions {
  Millis deadline = kNoDeadline;  // this caller's own deadline
  bool from_peer = false;         // asked by a peer: serve or load here, never forward
  uint64_t sender_ring = 0;       // the sender's ring fingerprint, when from a peer
};

struct WriteOptions {
  Millis deadline = kNoDeadline;
  bool from_peer = false;
};

// Settings shared by every keyspace of a node.
struct GroupEnv {
  PeerView* peers = nullptr;        // null: single node
  Scheduler* scheduler = nullptr;   // required
  const Clock* clock = nullptr;     // required
  Millis peer_timeout_ms = 1000;    // bound of one peer call
  Millis write_ack_wait_ms = 50;    // how long a write's owner waits for the members' acks
  Millis repair_interval_ms = 200;  // how often undelivered drops are re-sent per member
  size_t repair_max_keys = 10000;   // undelivered drops kept per member; beyond: clear-hot
};

// One keyspace on one node: the read-through request path of docs/design.md.
//
//   Get: main store -> hot store -> (owner = ring.Owner(key))
//        owner is this node, or the request came from a peer -> single-flight load via the loader
//        (bounded by load_concurrency), stored in main
//        else -> single-flight fetch from the owner; hot keys get a copy in the hot store;
//        owner unreachable -> local load (same limit), kept in the hot store for hot_ttl.
//   GetMany: the same path for every key, except that the fetches it starts leave as one
//        PeerClient::GetBatch per owner instead of one Get per key.
//   Set/Delete: applied by the owner, which then tells every other member to drop its hot copy
//   (core/propagation.h): the write answers once every member that is not ejected acked, or
//   after write_ack_wait, with the counts of members acked and pending; a non-owner forwards it to
//   the owner and answers with the owner's result. Drops not acknowledged are repaired in the
//   background; propagation never fails a write.
//   Invalidate: bumps the generation here and on every member; answers like a write.
//
// Thread-safe. Nothing blocks: callbacks run exactly once, on the calling thread for hits and
// validation errors, otherwise on the thread that completes the fill (loader or peer callback) or
// the scheduler's thread (deadlines). Create with Group::Create; the object stays alive until its
// last callback has run. The env's peers, scheduler and clock must outlive it.
class Group : public std::enable_shared_from_this<Group> {
 public:
  using GetCallback = std::function<void(const GetResult&)>;
  // One key's result of a GetMany: `index` is the key's position in the keys asked for.
  using ItemCallback = std::function<void(size_t index, const GetResult&)>;
  using StatusCallback = std::function<void(Status)>;
  using WriteCallback = std::function<void(const WriteResult&)>;

  // `loader` may be null (cache-aside keyspace).
  static StatusOr<std::shared_ptr<Group>> Create(const KeyspaceOptions& options,
                                                 std::shared_ptr<Loader> loader,
                                                 const GroupEnv& env);

  const KeyspaceOptions& options() const { return options_; }
  const std::string& name() const { return options_.name; }

  void Get(std::string_view key, const GetOptions& opts, GetCallback done);
  // Gets many keys: each key takes Get's path, with Get's counters, single-flight and fallback,
  // except that the keys this call must fetch from other members are grouped by owner and each
  // owner gets one PeerClient::GetBatch (which the client may split into calls of its max batch
  // size), all owners at once. Keys owned here, and every key when `opts.from_peer`, are loaded
  // here. A key already being fetched or loaded (a duplicate in `keys` too) joins that flight.
  // `item_done(i, result)` runs exactly once for every i in [0, keys.size()), with what
  // Get(keys[i]) would answer; then `all_done` runs exactly once, after every item_done has
  // returned (at once when `keys` is empty). Threads as for Get: hits and invalid keys are answered
  // on the calling thread before GetMany returns, the other keys where their fill completes, so
  // item_done may run concurrently for different keys, and all_done runs on the thread of the
  // last one (possibly before GetMany returns). `keys` is only read during the call.
  void GetMany(std::span<const std::string_view> keys, const GetOptions& opts,
               ItemCallback item_done, std::function<void()> all_done);
  // `ttl_ms`: -1 = the keyspace default, 0 = no expiry.
  void Set(std::string_view key, std::string_view value, Millis ttl_ms, const WriteOptions& opts,
           WriteCallback done);
  void Delete(std::string_view key, const WriteOptions& opts, WriteCallback done);
  // A peer that owns `key` changed it: forget the hot copy.
  void DropHot(std::string_view key);
  // A peer's invalidation repair: drops the hot copies of `keys` (or, when `clear_hot`, the whole
  // hot store) and adopts `generation` (0: none) as AdvanceGeneration does.
  Status Repair(std::span<const std::string_view> keys, bool clear_hot, uint64_t generation);
  // Stops serving every entry written before now, on this node and every member (those that do
  // not ack within write_ack_wait get it by repair).
  void Invalidate(WriteCallback done);
  // Drops and generation bumps not yet acknowledged, per member of the ring (0: none).
  std::vector<std::pair<std::string, uint64_t>> PendingRepairs() const;
  // A peer invalidated the keyspace: adopt its generation if it is newer. A generation above
  // kMaxPeerGeneration is refused (INVALID_ARGUMENT, counted, logged): no peer can push the
  // generation near the end of its range, so invalidation keeps working for good.
  Status AdvanceGeneration(uint64_t generation);
  uint64_t generation() const { return main_->generation(); }
  // 2^53: a million invalidations a second for 285 years.
  static constexpr uint64_t kMaxPeerGeneration = uint64_t{1} << 53;

  // Blocking helpers for tests and tools. Never call them from a callback.
  GetResult GetSync(std::string_view key, const GetOptions& opts = {});
  WriteResult SetSync(std::string_view key, std::string_view value, Millis ttl_ms,
                      const WriteOptions& opts = {});
  WriteResult DeleteSync(std::string_view key, const WriteOptions& opts = {});

  // Drops expired and stale entries from up to `max_buckets` buckets per shard of each store
  // (core/reaper.h calls it for every keyspace of a node).
  size_t ReclaimExpired(size_t max_buckets);
  // Shards of both stores: what one ReclaimExpired walks.
  size_t num_shards() const { return main_->num_shards() + hot_->num_shards(); }
  KeyspaceStats Stats() const;

  Group(const KeyspaceOptions& options, std::shared_ptr<Loader> loader, const GroupEnv& env);

 private:
  enum class Fill { kOwner, kFallback };
  using Done = SingleFlight<GetResult>::Done;
  // Where a Get that missed goes: loaded here, or fetched from `owner`.
  struct Route {
    uint64_t hash = 0;
    bool remote = false;
    std::string owner;
  };
  // A key being fetched from its owner: the flight that waits for it, and the generation taken
  // when the fetch started (a hot copy is not kept across an invalidation).
  struct PeerFetch {
    std::string key;
    uint64_t hash;
    uint64_t generation;
    Done done;
  };
  // The fetches a GetMany started, by owner: sent once every key has been looked at.
  using FetchesByOwner = std::map<std::string, std::vector<PeerFetch>>;

  static GetResult ErrorResult(Status s);
  static GetResult Found(ValueRef v, ValueSource source, Millis remaining_ttl_ms);
  // A fallback copy or hot copy lives at most hot_ttl (0 = no cap), never past the owner's TTL.
  static Millis CapTtl(Millis ttl, Millis cap);

  Status CheckKey(std::string_view key) const;
  bool OwnedHere(uint64_t hash, std::string* owner) const;
  // Get's first steps: validation, counters, the main and hot stores, then the route of a miss.
  // Returns true when the key is answered now (a hit or an invalid key), with the answer in
  // `*answer`; false with the miss's route in `*route`. Builds no callback: a hit costs no
  // allocation beyond the result.
  bool Lookup(std::string_view key, const GetOptions& opts, GetResult* answer, Route* route);
  // Completes `done` from main or hot if the key is there now.
  bool ServeIfCached(std::string_view key, uint64_t hash,
                     const SingleFlight<GetResult>::Done& done);
  void LoadHere(std::string key, uint64_t hash, Fill fill, Millis waiter_deadline,
                GetCallback done);
  void StartLoad(const std::string& key, uint64_t hash, Fill fill,
                 SingleFlight<GetResult>::Done done);
  void FinishLoad(const std::string& key, uint64_t hash, Fill fill, uint64_t generation,
                  StatusOr<Loaded> loaded, SingleFlight<GetResult>::Done done);
  // Joins or starts the single-flight fetch of `key` from `route.owner`. A fetch it starts is sent
  // at once, or, when `batch` is not null, added to it for the caller to send.
  void FetchFromOwner(std::string key, Route route, Millis waiter_deadline, GetCallback done,
                      FetchesByOwner* batch);
  // Sends fetches to their owner: one Get, or one GetBatch for several.
  void SendFetches(const std::string& owner, std::vector<PeerFetch> fetches);
  // Completes a fetch with the owner's answer: keeps a hot copy of a hot key, passes on a NOT_FOUND
  // or INVALID_ARGUMENT, and falls back to a local load on any other error.
  void FinishFetch(const PeerFetch& fetch, StatusOr<PeerValue> answer);
  GetResult FromEntry(ValueRef v, ValueSource source) const;
  // Applies a write here as the owner and hands the other members' hot-copy drops to
  // propagation_; `done` runs as Propagation::Drop's does.
  void ApplyOwnedWrite(std::string_view key, uint64_t hash, const std::string_view* value,
                       Millis ttl_ms, WriteCallback done);
  // One peer write call: (client, deadline, completion).
  using PeerCall = std::function<void(PeerClient&, Millis, PeerClient::WriteFn)>;
  // Sends a Set or Delete for a key this node does not own to its owner, dropping the local hot
  // copy first; UNAVAILABLE when there is no client for the owner.
  void ForwardToOwner(std::string_view key, uint64_t hash, const std::string& owner,
                      const WriteOptions& opts, WriteCallback done, const PeerCall& call);
  void FallBackToLocalLoad(const std::string& key, uint64_t hash, Done done);

  const KeyspaceOptions options_;
  const std::shared_ptr<Loader> loader_;
  const GroupEnv env_;
  std::unique_ptr<Store> main_;
  std::unique_ptr<Store> hot_;
  HotTracker hot_tracker_;
  AsyncLimiter load_limiter_;
  SingleFlight<GetResult> loads_;
  SingleFlight<GetResult> fetches_;
  StripedCounters<KeyspaceStats::kNumCounters> counters_;
  // Writes' propagation and invalidation repair; null without peers. Set once by Create.
  std::shared_ptr<Propagation> propagation_;
};

}  // namespace podcache
