#pragma once

#include <grpcpp/channel.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "core/peer.h"
#include "core/peer_health.h"
#include "core/scheduler.h"
#include "podcache/peer/v1/peer.grpc.pb.h"

namespace podcache {

struct PeerClientOptions {
  int max_inflight = 16;           // calls in flight to one peer at once
  int max_batch = 64;              // keys per GetBatch
  int max_queued = 4096;           // Gets waiting for a slot; more -> RESOURCE_EXHAUSTED
  PeerHealthOptions health;        // outlier detection: when the peer is ejected, for how long
  Millis probe_timeout_ms = 1000;  // deadline of the Ping sent when an ejection ends
  // Times ejections and latencies and turns deadlines into gRPC's; must outlive the client and
  // its calls (tests: a FakeClock).
  const Clock* clock = SystemClock::Get();
  // Sends the probe when an ejection ends; must outlive the client and its calls. Null: no
  // probe, the ejection ends by itself and the next calls decide.
  Scheduler* scheduler = nullptr;
};

// Counters of one peer client, read by /metrics.
struct PeerClientStats {
  std::atomic<uint64_t> calls{0};             // RPCs sent (a batch counts once)
  std::atomic<uint64_t> errors{0};            // RPCs that failed
  std::atomic<uint64_t> batches{0};           // GetBatch RPCs sent
  std::atomic<uint64_t> batched_keys{0};      // keys sent in them
  std::atomic<uint64_t> overload_rejects{0};  // calls refused because too many were queued
  std::atomic<int> inflight{0};
};

// The client of one remote member (core's PeerClient) over one gRPC channel.
//
// Gets go out as single calls while fewer than max_inflight calls are in flight; beyond that they
// queue (at most max_queued, more are refused with RESOURCE_EXHAUSTED) and leave as GetBatch calls
// of up to max_batch keys as slots free up, so a busy owner gets fewer, larger calls instead of a
// growing backlog, and an idle one sees no added latency. This queue is the only thing that
// coalesces concurrent Gets; nothing depends on which thread calls.
// GetBatch (core's explicit batch, from Group::GetMany) is sent at once as calls of up to
// max_batch keys, in parallel, whatever is in flight; each call takes a slot, so queued Gets wait
// for it. A key whose value did not fit in the batch's response (ResponseBudget::kOverBudget) is
// fetched again on its own.
// Writes (Set, Delete, Repair, Sync) are rare and never wait behind Gets: they are
// sent at once and only count towards the cap.
// Failure detection (core's PeerHealthTracker, after Envoy's outlier detection): a call that ends
// UNAVAILABLE or DEADLINE_EXCEEDED without an answer from the peer (no kPeerAnswerKey trailer)
// is a failure (a timeout only when the call had at least twice the peer's p99); any answer is a
// success. peer_eject_failures failures in a row eject the peer: Gets and GetBatches are then
// refused at once with UNAVAILABLE (counted per key in the health snapshot), so the callers load
// locally instead of waiting; writes and control calls are still sent and count like any call.
// When the ejection ends, the client sends one Ping (options.scheduler's thread, deadline
// probe_timeout_ms); its success brings the peer back up, its failure ejects it again for twice as
// long. Transport never removes a peer from the ring: membership does.
// The last reference to a client may be dropped on any thread, a gRPC callback's included: its
// channel is then destroyed on a thread of its own (see off_grpc_thread.h).
// Thread-safe. Every callback runs exactly once (GetBatch: once per key), on a gRPC thread, or on
// the caller's thread before the call returns when it is refused at once; never with a lock of
// this client held.
class GrpcPeerClient final : public PeerClient,
                             public std::enable_shared_from_this<GrpcPeerClient> {
 public:
  GrpcPeerClient(std::string member, std::shared_ptr<grpc::Channel> channel,
                 PeerClientOptions options);

  void Get(std::string_view keyspace, std::string_view key, uint64_t ring_fingerprint,
           Millis deadline, ValueFn done) override;
  void GetBatch(std::string_view keyspace, std::span<const std::string_view> keys,
                uint64_t ring_fingerprint, Millis deadline, BatchItemFn done) override;
  void Set(std::string_view keyspace, std::string_view key, std::string_view value, Millis ttl_ms,
           Millis deadline, WriteFn done) override;
  void Delete(std::string_view keyspace, std::string_view key, Millis deadline,
              WriteFn done) override;
  // Sent as calls of up to max_batch keys (the first also carries clear_hot and the generation),
  // in parallel; `done` gets OK once all succeeded, else the first error.
  void Repair(std::string_view keyspace, std::span<const std::string> keys, bool clear_hot,
              uint64_t generation, Millis deadline, StatusFn done) override;
  void Sync(std::string_view keyspace, Millis deadline, GenerationFn done) override;

  PeerHealth health() const override { return health_.health(); }
  Millis LatencyP99Ms() const override { return health_.LatencyP99Ms(); }
  Millis LastAnswerMs() const override { return health_.LastAnswerMs(); }

  const std::string& member() const { return member_; }
  const PeerClientStats& stats() const { return stats_; }
  PeerHealthSnapshot HealthSnapshot() const { return health_.Snapshot(); }

 private:
  // A Get waiting to be sent.
  struct QueuedGet {
    std::string key;
    uint64_t ring_fingerprint;
    Millis deadline;
    ValueFn done;
  };

  // The channel and its stub, shared with the calls in flight and the probe: destroyed off gRPC's
  // threads (see off_grpc_thread.h).
  struct Connection {
    ~Connection();
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<peer::v1::Peer::Stub> stub;
  };

  // Releases a slot and sends queued Gets, if any, as a batch.
  void Release();
  // Counts a finished call sent at `start` with `deadline` and records its outcome for health.
  void Finished(const grpc::ClientContext& context, const grpc::Status& s, Millis start,
                Millis deadline);
  void SendGet(const std::string& keyspace, QueuedGet get);
  void SendBatch(const std::string& keyspace, std::vector<QueuedGet> batch);
  // Sends a unary call at once (no queue, never refused while ejected); `done` gets the status and
  // the response.
  template <typename Request, typename Response>
  void SendWrite(Request request, Millis deadline,
                 std::function<void(Status, const Response&)> done,
                 void (peer::v1::Peer::Stub::async_interface::*method)(
                     grpc::ClientContext*, const Request*, Response*,
                     std::function<void(grpc::Status)>));

  const std::string member_;
  const std::shared_ptr<Connection> connection_;
  peer::v1::Peer::Stub* const stub_;  // connection_'s
  const PeerClientOptions options_;
  PeerClientStats stats_;
  PeerHealthTracker health_;

  Mutex mu_;
  std::map<std::string, std::deque<QueuedGet>, std::less<>> queued_ GUARDED_BY(mu_);  // by keyspace
  size_t queued_count_ GUARDED_BY(mu_) = 0;
};

}  // namespace podcache
