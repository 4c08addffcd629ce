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
#include "core/hedge_budget.h"
#include "core/hot_tracker.h"
#include "core/keyspace_options.h"
#include "core/keyspace_stats.h"
#include "core/latency_window.h"
#include "core/loader.h"
#include "core/loader_breaker.h"
#include "core/log.h"
#include "core/peer.h"
#include "core/propagation.h"
#include "core/scheduler.h"
#include "core/single_flight.h"
#include "core/store.h"
#include "core/striped_counters.h"

namespace podcache {

// Where a Get's value came from. kStale: a value past its TTL, served under stale-while-revalidate
// or stale-if-error (here, or by the owner).
enum class ValueSource { kNone, kMain, kHot, kPeer, kLoader, kStale };
std::string_view ValueSourceName(ValueSource s);

struct GetResult {
  Status status;  // OK, NOT_FOUND, or the error that stopped the fill
  ValueRef value;
  ValueSource source = ValueSource::kNone;
  Millis remaining_ttl_ms = 0;  // 0 = no expiry; kStaleTtlMs for a stale answer
};

// The TTL a stale answer reports: it has expired already, so no one should keep it, but 0 would
// read as "no expiry".
inline constexpr Millis kStaleTtlMs = 1;

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
  // How long a fetch waits for the owner before a local load starts in parallel (a hedge; the
  // first answer wins): kAutoHedgeDelay = twice the time a load needs (the p99 of this node's
  // loads, or the owner's p99 when this node has timed too few; a miss on the owner loads from
  // the same data source) plus twice the owner's p99, clamped to [5 ms, 50 ms] (20 ms while it is
  // not known); no hedge while neither latency is known; 0 = never hedge; else this many ms.
  // Either way, no hedge while the owner keeps answering other calls (see Group::Hedge).
  static constexpr Millis kAutoHedgeDelay = -1;
  Millis peer_hedge_delay_ms = kAutoHedgeDelay;
};

// One keyspace on one node: the read-through request path of docs/design.md.
//
//   Get: main store -> hot store -> (owner = ring.Owner(key))
//        owner is this node, or the request came from a peer -> single-flight load via the loader
//        (bounded by load_concurrency), stored in main
//        else -> single-flight fetch from the owner; hot keys get a copy in the hot store. The
//        owner's answer, errors included (NOT_FOUND, its loader's errors), is passed on as it is.
//        The peer call's deadline leaves the caller time for a local load (the keyspace's load
//        p99); owner slower than a load plus a margin (the hedge delay) -> a local load in
//        parallel, first answer wins
//        (bounded by a budget of 10% of fetches); call failed, owner ejected or no time left
//        for a peer call -> local load. Local loads use the same limit and are kept in the hot
//        store at most fallback_ttl.
//   Stale (RFC 5861, owner path): an expired main entry within its stale_while_revalidate window
//        is answered at once (source kStale) while one background load refreshes it; a load that
//        fails (not NOT_FOUND) answers its waiters with an expired main entry within its
//        stale_if_error window instead of the error; NOT_FOUND drops the old value.
//   Loader circuit breaker: loader_breaker_failures consecutive failed loads make loads fail at
//        once (UNAVAILABLE, or stale as above) for a back-off; see core/loader_breaker.h.
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
  // The hedge timer of one Get or GetBatch: cancelled once each of its fetches has its answer.
  struct HedgeTimer {
    explicit HedgeTimer(size_t fetches) : unanswered(fetches) {}
    std::atomic<size_t> unanswered;
    // Set before the call is sent, so before any answer of the call (a hedge that fires at once
    // may read 0: its timer has run anyway).
    std::atomic<Scheduler::TaskId> id{0};
  };
  // A fetch sent to the owner: answered once, by the owner or by a local load (hedge or fallback),
  // whichever comes first; the other answer is dropped.
  struct SentFetch {
    explicit SentFetch(PeerFetch f) : fetch(std::move(f)) {}
    PeerFetch fetch;
    std::shared_ptr<HedgeTimer> hedge;       // null: no hedge armed
    std::atomic<bool> local_started{false};  // a hedged or fallback load runs
    std::atomic<bool> answered{false};       // fetch.done has been called
  };
  // True for the first answer of `f` (which the caller then delivers); cancels the hedge timer
  // once every fetch it covers is answered.
  bool ClaimAnswer(SentFetch& f);
  using SentFetches = std::vector<std::shared_ptr<SentFetch>>;
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
  // Answers `*answer` with `v` (an expired main entry) when it is within its
  // stale_while_revalidate window, and starts the background refresh if none is running.
  bool ServeStaleWhileRevalidate(std::string_view key, uint64_t hash, const ValueRef& v,
                                 GetResult* answer);
  // The stale-if-error answer for a failed load of `key`: true with `*answer` when main holds an
  // expired value within its stale_if_error window.
  bool StaleIfError(std::string_view key, uint64_t hash, GetResult* answer);
  GetResult StaleAnswer(ValueRef v);
  // Tells the breaker how an admitted load ended; logs and counts when it opens or closes.
  void RecordLoadOutcome(const Status& status);
  void StartLoad(const std::string& key, uint64_t hash, Fill fill,
                 SingleFlight<GetResult>::Done done);
  void FinishLoad(const std::string& key, uint64_t hash, Fill fill, uint64_t generation,
                  StatusOr<Loaded> loaded, SingleFlight<GetResult>::Done done);
  // Joins or starts the single-flight fetch of `key` from `route.owner`. A fetch it starts is sent
  // at once, or, when `batch` is not null, added to it for the caller to send.
  void FetchFromOwner(std::string key, Route route, Millis waiter_deadline, GetCallback done,
                      FetchesByOwner* batch);
  // Sends fetches to their owner (one Get, or one GetBatch for several) with a deadline that
  // leaves the waiter time for a local load, and arms the hedge; loads them here instead when the
  // owner has no client, is ejected, or there is no time left for a peer call.
  void SendFetches(const std::string& owner, std::vector<PeerFetch> fetches,
                   Millis waiter_deadline);
  // Completes a fetch with the owner's answer: keeps a hot copy of a hot key and passes the owner's
  // error answers on as they are; when the call failed, loads here (unless a hedge already does).
  // Dropped when a local load answered first.
  void FinishFetch(const std::shared_ptr<SentFetch>& sent, const std::string& owner,
                   StatusOr<PeerValue> answer);
  // The owner has not answered within the hedge delay: unless it answered other calls within the
  // last `alive_window` (alive, merely busy: then it looks again after the window, until the peer
  // call's `deadline`), starts a local load for each unanswered fetch that the hedge budget allows
  // (every one when the peer is not up).
  void Hedge(const SentFetches& sent, const std::shared_ptr<PeerClient>& client,
             Millis alive_window, Millis deadline);
  // The peer call's deadline: peer_timeout from now, but early enough that the waiter still has
  // the time a local load needs (LocalLoadEstimate) after it.
  Millis PeerDeadline(Millis now, Millis waiter_deadline) const;
  // The time a local load needs: the p99 of this keyspace's recent loads, or before
  // kMinLoadSamples of them, min(load_timeout, kDefaultLoadEstimateMs).
  Millis LocalLoadEstimate() const;
  static constexpr uint64_t kMinLoadSamples = 20;
  static constexpr Millis kDefaultLoadEstimateMs = 250;
  Millis HedgeDelay(const PeerClient& client) const;
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
  // Loads a key here because its owner could not be asked or answer: counted, logged (rate
  // limited per owner), kept at most fallback_ttl.
  void FallBackToLocalLoad(const std::string& owner, std::string_view reason,
                           const std::string& key, uint64_t hash, Done done);
  void LogLocalLoad(const std::string& owner, std::string_view reason);

  const KeyspaceOptions options_;
  const std::shared_ptr<Loader> loader_;
  const GroupEnv env_;
  std::unique_ptr<Store> main_;
  std::unique_ptr<Store> hot_;
  HotTracker hot_tracker_;
  AsyncLimiter load_limiter_;
  SingleFlight<GetResult> loads_;
  SingleFlight<GetResult> fetches_;
  LoaderBreaker breaker_;
  StripedCounters<KeyspaceStats::kNumCounters> counters_;
  LatencyWindow load_latency_;  // this keyspace's loader calls here: the local load estimate
  HedgeBudget hedge_budget_;
  LogRateLimiter local_load_log_{10000};  // "loading locally", one line per owner per 10 s
  // Writes' propagation and invalidation repair; null without peers. Set once by Create.
  std::shared_ptr<Propagation> propagation_;
};

}  // namespace podcache
