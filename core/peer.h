#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/ring.h"
#include "core/status.h"

namespace podcache {

// The owner's answer to a peer Get: a value, or (status not OK) the owner's own outcome without a
// value -- NOT_FOUND, or its loader's error (UNAVAILABLE, DEADLINE_EXCEEDED, ...),
// INVALID_ARGUMENT, RESOURCE_EXHAUSTED. Such an answer means the owner was reached and did the
// work: the caller passes it on and neither loads the key again nor blames the peer. TTLs travel as
// remaining milliseconds, never as absolute times, so clock skew between pods cannot stretch or cut
// them.
struct PeerValue {
  std::string value;
  Millis remaining_ttl_ms = 0;  // 0 = no expiry
  bool stale = false;  // served by the owner past its TTL (stale-while-revalidate/-if-error)
  Status status = OkStatus();  // OK: `value` holds the value; else the owner's answer (no value)

  // The owner's answer without a value (`s` not OK).
  static PeerValue Outcome(Status s) {
    PeerValue v;
    v.status = std::move(s);
    return v;
  }
};

// The outcome of a write (Set, Delete, InvalidateKeyspace) as its owner saw it. `status` is the
// owner's apply; propagation never makes a write fail. Of the other members of the ring,
// `members_acked` dropped their hot copy (or adopted the generation) before the answer, and
// `members_pending` were still being told: they get it in the background (invalidation repair).
struct WriteResult {
  Status status;
  uint32_t members_acked = 0;
  uint32_t members_pending = 0;
};

// How a client sees its peer (transport's outlier detection, after Envoy's): kUp answers;
// kSuspect failed its last call(s) but is still tried; kEjected failed too many calls in a row and
// is not called until its back-off ends: every call is refused at once with UNAVAILABLE.
enum class PeerHealth { kUp, kSuspect, kEjected };
std::string_view PeerHealthName(PeerHealth h);

// The client side of the peer protocol, one per remote member (transport implements it).
// Thread-safe; every call returns at once and calls its callback exactly once (GetBatch: once per
// key), from any thread: the caller's own thread when the call is refused at once or the answer
// is at hand, else a transport thread. A callback may run before the call returns, so a caller
// must not hold a lock its callback takes.
class PeerClient {
 public:
  using StatusFn = std::function<void(Status)>;
  using WriteFn = std::function<void(const WriteResult&)>;
  using GenerationFn = std::function<void(StatusOr<uint64_t>)>;
  using ValueFn = std::function<void(StatusOr<PeerValue>)>;
  // One key's answer in a GetBatch: `index` is the key's position in the keys asked for.
  using BatchItemFn = std::function<void(size_t index, StatusOr<PeerValue>)>;
  virtual ~PeerClient() = default;

  // Get marked as coming from a peer: the owner never forwards it. `ring_fingerprint` is the
  // sender's, so the owner can count disagreements. A StatusOr that is not OK means only that the
  // call failed (refused, connection failure, deadline, a peer that does not know the keyspace):
  // the owner's answer is unknown. Whatever the owner answered comes as a PeerValue, whose status
  // carries NOT_FOUND or the owner's loader error. Concurrent Gets to one peer may be coalesced by
  // the implementation into batched calls.
  virtual void Get(std::string_view keyspace, std::string_view key, uint64_t ring_fingerprint,
                   Millis deadline, ValueFn done) = 0;
  // Many Gets of one keyspace for keys this peer owns, as few calls as the implementation allows
  // (it may split them into several calls). `done(i, result)` runs exactly once for every i in
  // [0, keys.size()), with the answer for keys[i] as a Get would give it: each key has the owner's
  // own answer (PeerValue::status), and a failed call fails each of its keys (StatusOr not OK). The
  // callbacks may run concurrently on different threads, in any order. `keys` is only read during
  // the call. No keys: no callback.
  virtual void GetBatch(std::string_view keyspace, std::span<const std::string_view> keys,
                        uint64_t ring_fingerprint, Millis deadline, BatchItemFn done) = 0;
  // A write on the key's owner; the answer carries the owner's propagation counts.
  virtual void Set(std::string_view keyspace, std::string_view key, std::string_view value,
                   Millis ttl_ms, Millis deadline, WriteFn done) = 0;
  virtual void Delete(std::string_view keyspace, std::string_view key, Millis deadline,
                      WriteFn done) = 0;
  // Invalidation repair, coalesced: the peer drops its hot copies of `keys` (or, when `clear_hot`,
  // its whole hot store of the keyspace) and moves its generation forward to at least
  // `generation` (0: unchanged). The implementation may split many keys into several calls.
  virtual void Repair(std::string_view keyspace, std::span<const std::string> keys, bool clear_hot,
                      uint64_t generation, Millis deadline, StatusFn done) = 0;
  // The peer's current generation of a keyspace: what a member that was cut off compares with.
  virtual void Sync(std::string_view keyspace, Millis deadline, GenerationFn done) = 0;

  // The peer's state as this client sees it now.
  virtual PeerHealth health() const { return PeerHealth::kUp; }
  // The 99th percentile latency of this peer's recent answered calls, 0 when not known yet.
  virtual Millis LatencyP99Ms() const { return 0; }
  // When (on the client's clock) the peer last answered a call, 0 when never or not tracked. A
  // peer that answers other calls is alive: core hedges only against one that went silent.
  virtual Millis LastAnswerMs() const { return 0; }
};

// This node's view of the cluster: the current ring and a client for each member. Membership
// implements it; core reads it on every miss. Thread-safe; Ring() takes no lock a writer holds.
class PeerView {
 public:
  virtual ~PeerView() = default;
  // The current snapshot (never null; empty before the first membership is known).
  virtual RingPtr Ring() const = 0;
  // This node's member name as it appears in the ring.
  virtual const std::string& Self() const = 0;
  // The client for a member, or null when there is none (yet).
  virtual std::shared_ptr<PeerClient> Client(const std::string& member) = 0;
};

}  // namespace podcache
