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
#include "podcache/peer/v1/peer.grpc.pb.h"

namespace podcache {

struct PeerClientOptions {
  int max_inflight = 16;         // calls in flight to one peer at once
  int max_batch = 64;            // keys per GetBatch
  int max_queued = 4096;         // Gets waiting for a slot; more -> RESOURCE_EXHAUSTED
  Millis backoff_min_ms = 100;   // after a peer fails: no calls for this long, doubling ...
  Millis backoff_max_ms = 2000;  // ... up to this
  // Times back-off and turns deadlines into gRPC's; must outlive the client (tests: a FakeClock).
  const Clock* clock = SystemClock::Get();
};

// Counters of one peer client, read by /metrics.
struct PeerClientStats {
  std::atomic<uint64_t> calls{0};             // RPCs sent (a batch counts once)
  std::atomic<uint64_t> errors{0};            // RPCs that failed
  std::atomic<uint64_t> batches{0};           // GetBatch RPCs sent
  std::atomic<uint64_t> batched_keys{0};      // keys sent in them
  std::atomic<uint64_t> backoff_rejects{0};   // calls refused at once while backing off
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
// After a call fails with UNAVAILABLE the peer is backed off (no calls for backoff_min_ms,
// doubling per failure up to backoff_max_ms, on options.clock): every call but Repair and Sync is
// refused at once with UNAVAILABLE, so a dead peer is not retried on every miss and the callers
// fall back to local loads. A call that succeeds (or answers NOT_FOUND) resets the doubling.
// Transport never removes a peer from the ring: membership does. Thread-safe. Every callback runs
// exactly once (GetBatch: once per key), on a gRPC thread, or on the caller's thread before the
// call returns when it is refused at once; never with a lock of this client held.
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

  const std::string& member() const { return member_; }
  const PeerClientStats& stats() const { return stats_; }

 private:
  // A Get waiting to be sent.
  struct QueuedGet {
    std::string key;
    uint64_t ring_fingerprint;
    Millis deadline;
    ValueFn done;
  };

  // UNAVAILABLE while the peer is backed off (counting `calls` refusals), else OK. Takes mu_.
  Status CheckBackoff(size_t calls = 1) EXCLUDES(mu_);
  // Releases a slot and sends queued Gets, if any, as a batch.
  void Release();
  void Finished(const grpc::Status& s);
  void SendGet(const std::string& keyspace, QueuedGet get);
  void SendBatch(const std::string& keyspace, std::vector<QueuedGet> batch);
  // Sends a unary call at once (no queue); `done` gets the status and the response. Refused while
  // backed off unless `ignore_backoff`, which also keeps the outcome out of the back-off (Repair
  // and Sync: core sends at most one per member and keyspace at a time, every repair_interval;
  // they are how a member that came back learns what it missed, so back-off must not delay them,
  // and their failures must not turn Gets away).
  template <typename Request, typename Response>
  void SendWrite(Request request, Millis deadline,
                 std::function<void(Status, const Response&)> done,
                 void (peer::v1::Peer::Stub::async_interface::*method)(
                     grpc::ClientContext*, const Request*, Response*,
                     std::function<void(grpc::Status)>),
                 bool ignore_backoff = false);

  const std::string member_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<peer::v1::Peer::Stub> stub_;
  const PeerClientOptions options_;
  PeerClientStats stats_;

  Mutex mu_;
  std::map<std::string, std::deque<QueuedGet>, std::less<>> queued_ GUARDED_BY(mu_);  // by keyspace
  size_t queued_count_ GUARDED_BY(mu_) = 0;
  int failures_ GUARDED_BY(mu_) = 0;  // consecutive UNAVAILABLE failures
  Millis backoff_until_ GUARDED_BY(mu_) = 0;
};

}  // namespace podcache
