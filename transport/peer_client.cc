#include "transport/peer_client.h"

#include <grpcpp/grpcpp.h>

#include "transport/grpc_util.h"
#include "transport/off_grpc_thread.h"
#include "transport/response_budget.h"

namespace podcache {

namespace {

// A unary call's state, alive until gRPC's callback.
template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
};

// How a finished call bears on the peer's health: an error the peer sent itself (it carries
// kPeerAnswerKey, e.g. UNAVAILABLE because its loader failed) is an answer like any other.
CallOutcome OutcomeOf(const grpc::ClientContext& context, const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED: {
      const auto& trailers = context.GetServerTrailingMetadata();
      if (trailers.find(kPeerAnswerKey) != trailers.end()) return CallOutcome::kAnswered;
      return s.error_code() == grpc::StatusCode::UNAVAILABLE ? CallOutcome::kUnavailable
                                                             : CallOutcome::kTimeout;
    }
    case grpc::StatusCode::CANCELLED:
      return CallOutcome::kIgnored;
    default:
      return CallOutcome::kAnswered;
  }
}

}  // namespace

GrpcPeerClient::Connection::~Connection() {
  // Destroying the process's last channel on a gRPC thread crashes gRPC (off_grpc_thread.h).
  RunOffGrpcThread([channel = std::move(channel),
                    stub = std::shared_ptr<peer::v1::Peer::Stub>(std::move(stub))]() mutable {
    stub.reset();
    channel.reset();
  });
}

GrpcPeerClient::GrpcPeerClient(std::string member, std::shared_ptr<grpc::Channel> channel,
                               PeerClientOptions options)
    : member_(std::move(member)),
      connection_(std::make_shared<Connection>()),
      stub_((connection_->stub = peer::v1::Peer::NewStub(channel)).get()),
      options_(options),
      // The probe holds the connection, not the client: the client may go while it is out.
      health_(member_, options_.health, options_.clock, options_.scheduler,
              [connection = connection_, clock = options_.clock,
               timeout = options_.probe_timeout_ms](auto done) {
                auto* call = new Call<peer::v1::PingRequest, peer::v1::PingResponse>;
                call->context.set_deadline(
                    ToSystemDeadline(SaturatingAdd(clock->NowMs(), timeout), *clock));
                connection->stub->async()->Ping(
                    &call->context, &call->request, &call->response,
                    [connection, call, done = std::move(done)](grpc::Status s) {
                      MarkGrpcThread();
                      std::unique_ptr<std::remove_pointer_t<decltype(call)>> owned(call);
                      done(OutcomeOf(call->context, s), s.error_message());
                    });
              }) {
  connection_->channel = std::move(channel);
}

void GrpcPeerClient::Finished(const grpc::ClientContext& context, const grpc::Status& s,
                              Millis start, Millis deadline) {
  stats_.calls.fetch_add(1, std::memory_order_relaxed);
  if (!s.ok()) stats_.errors.fetch_add(1, std::memory_order_relaxed);
  Millis now = options_.clock->NowMs();
  health_.Record(OutcomeOf(context, s), deadline - start, now - start, s.error_message());
}

void GrpcPeerClient::Release() {
  std::string keyspace;
  std::vector<QueuedGet> batch;
  {
    MutexLock lock(&mu_);
    auto it = queued_.begin();
    while (it != queued_.end() && it->second.empty()) it = queued_.erase(it);
    if (it == queued_.end()) {
      stats_.inflight.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    // The slot passes straight to the next batch.
    keyspace = it->first;
    while (!it->second.empty() && batch.size() < static_cast<size_t>(options_.max_batch)) {
      batch.push_back(std::move(it->second.front()));
      it->second.pop_front();
    }
    queued_count_ -= batch.size();
  }
  if (batch.size() == 1) {
    SendGet(keyspace, std::move(batch[0]));
  } else {
    SendBatch(keyspace, std::move(batch));
  }
}

void GrpcPeerClient::Get(std::string_view keyspace, std::string_view key, uint64_t ring_fingerprint,
                         Millis deadline, ValueFn done) {
  if (Status s = health_.CheckGet(); !s.ok()) return done(std::move(s));
  QueuedGet get{std::string(key), ring_fingerprint, deadline, std::move(done)};
  Status refused;
  {
    MutexLock lock(&mu_);
    if (stats_.inflight.load(std::memory_order_relaxed) >= options_.max_inflight) {
      if (queued_count_ < static_cast<size_t>(options_.max_queued)) {
        auto it = queued_.find(keyspace);
        if (it == queued_.end()) {
          it = queued_.emplace(std::string(keyspace), std::deque<QueuedGet>()).first;
        }
        it->second.push_back(std::move(get));
        ++queued_count_;
        return;
      }
      refused = ResourceExhaustedError("too many calls queued for peer " + member_);
    } else {
      stats_.inflight.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (!refused.ok()) {
    stats_.overload_rejects.fetch_add(1, std::memory_order_relaxed);
    return get.done(std::move(refused));
  }
  SendGet(std::string(keyspace), std::move(get));
}

void GrpcPeerClient::GetBatch(std::string_view keyspace, std::span<const std::string_view> keys,
                              uint64_t ring_fingerprint, Millis deadline, BatchItemFn done) {
  if (keys.empty()) return;
  // Refusals are counted per key, as a Get's are.
  if (Status s = health_.CheckGet(keys.size()); !s.ok()) {
    for (size_t i = 0; i < keys.size(); ++i) done(i, s);
    return;
  }
  auto shared_done = std::make_shared<const BatchItemFn>(std::move(done));
  std::string ks(keyspace);
  size_t max = static_cast<size_t>(std::max(1, options_.max_batch));
  for (size_t start = 0; start < keys.size(); start += max) {
    std::vector<QueuedGet> batch;
    for (size_t i = start; i < std::min(keys.size(), start + max); ++i) {
      batch.push_back(
          {std::string(keys[i]), ring_fingerprint, deadline,
           [shared_done, i](StatusOr<PeerValue> r) { (*shared_done)(i, std::move(r)); }});
    }
    stats_.inflight.fetch_add(1, std::memory_order_relaxed);
    if (batch.size() == 1) {
      SendGet(ks, std::move(batch[0]));
    } else {
      SendBatch(ks, std::move(batch));
    }
  }
}

namespace {

// A request naming one key of a keyspace (Set, Delete, DropHot).
template <typename Request>
Request KeyRequest(std::string_view keyspace, std::string_view key) {
  Request r;
  r.set_keyspace(std::string(keyspace));
  r.set_key(std::string(key));
  return r;
}

// The owner's answer without a value (`code` not 0); a code no gRPC status has is UNKNOWN.
PeerValue OwnerAnswer(int code, const std::string& message) {
  bool known = code > 0 && code <= static_cast<int>(StatusCode::kUnauthenticated);
  return PeerValue::Outcome(
      Status(known ? static_cast<StatusCode>(code) : StatusCode::kUnknown,
             message.empty() ? "the owner answered without a message" : message));
}

}  // namespace

void GrpcPeerClient::SendGet(const std::string& keyspace, QueuedGet get) {
  auto* call = new Call<peer::v1::GetRequest, peer::v1::GetResponse>;
  call->request.set_keyspace(keyspace);
  call->request.set_key(std::move(get.key));
  call->request.set_ring_fingerprint(get.ring_fingerprint);
  call->context.set_deadline(ToSystemDeadline(get.deadline, *options_.clock));
  auto self = shared_from_this();
  stub_->async()->Get(
      &call->context, &call->request, &call->response,
      [self, call, done = std::move(get.done), start = options_.clock->NowMs(),
       deadline = get.deadline](grpc::Status s) {
        MarkGrpcThread();
        std::unique_ptr<std::remove_pointer_t<decltype(call)>> owned(call);
        self->Finished(call->context, s, start, deadline);
        self->Release();
        if (!s.ok()) return done(FromGrpcStatus(s));  // the call failed
        peer::v1::GetResponse& r = call->response;
        if (r.code() != 0) {  // the owner's answer without a value
          return done(OwnerAnswer(r.code(), r.message()));
        }
        done(PeerValue{std::move(*r.mutable_value()), r.remaining_ttl_ms(), r.stale()});
      });
}

void GrpcPeerClient::SendBatch(const std::string& keyspace, std::vector<QueuedGet> batch) {
  auto* call = new Call<peer::v1::GetBatchRequest, peer::v1::GetBatchResponse>;
  call->request.set_keyspace(keyspace);
  Millis deadline = 0;
  for (QueuedGet& g : batch) {
    call->request.add_keys(std::move(g.key));
    call->request.set_ring_fingerprint(g.ring_fingerprint);
    deadline = std::max(deadline, g.deadline);
  }
  call->context.set_deadline(ToSystemDeadline(deadline, *options_.clock));
  stats_.batches.fetch_add(1, std::memory_order_relaxed);
  stats_.batched_keys.fetch_add(batch.size(), std::memory_order_relaxed);
  auto self = shared_from_this();
  auto waiters = std::make_shared<std::vector<QueuedGet>>(std::move(batch));
  stub_->async()->GetBatch(
      &call->context, &call->request, &call->response,
      [self, call, waiters, start = options_.clock->NowMs(), deadline](grpc::Status s) {
        MarkGrpcThread();
        std::unique_ptr<std::remove_pointer_t<decltype(call)>> owned(call);
        self->Finished(call->context, s, start, deadline);
        self->Release();
        if (s.ok() && call->response.items_size() != static_cast<int>(waiters->size())) {
          s = grpc::Status(grpc::StatusCode::INTERNAL, "peer answered a batch with the wrong size");
        }
        for (size_t i = 0; i < waiters->size(); ++i) {
          ValueFn& done = (*waiters)[i].done;
          if (!s.ok()) {
            done(FromGrpcStatus(s));
            continue;
          }
          peer::v1::GetBatchItem* item = call->response.mutable_items(static_cast<int>(i));
          if (item->code() == static_cast<int>(StatusCode::kResourceExhausted) &&
              item->message() == ResponseBudget::kOverBudget) {
            // The value did not fit in the batch's response: it is fetched on its own.
            self->stats_.inflight.fetch_add(1, std::memory_order_relaxed);
            self->SendGet(call->request.keyspace(), {call->request.keys(static_cast<int>(i)),
                                                     call->request.ring_fingerprint(),
                                                     (*waiters)[i].deadline, std::move(done)});
          } else if (item->code() != 0) {  // the owner's answer without a value
            done(OwnerAnswer(item->code(), item->message()));
          } else {
            done(PeerValue{std::move(*item->mutable_value()), item->remaining_ttl_ms(),
                           item->stale()});
          }
        }
      });
}

template <typename Request, typename Response>
void GrpcPeerClient::SendWrite(Request request, Millis deadline,
                               std::function<void(Status, const Response&)> done,
                               void (peer::v1::Peer::Stub::async_interface::*method)(
                                   grpc::ClientContext*, const Request*, Response*,
                                   std::function<void(grpc::Status)>)) {
  // Never refused while the peer is ejected: writes, Repair and Sync are rare (core sends one
  // Repair or Sync per member and keyspace at a time), and their outcome is a probe.
  stats_.inflight.fetch_add(1, std::memory_order_relaxed);
  auto* call = new Call<Request, Response>;
  call->request = std::move(request);
  call->context.set_deadline(ToSystemDeadline(deadline, *options_.clock));
  auto self = shared_from_this();
  (stub_->async()->*method)(&call->context, &call->request, &call->response,
                            [self, call, done = std::move(done), start = options_.clock->NowMs(),
                             deadline](grpc::Status s) {
                              MarkGrpcThread();
                              std::unique_ptr<std::remove_pointer_t<decltype(call)>> owned(call);
                              self->Finished(call->context, s, start, deadline);
                              self->Release();
                              done(FromGrpcStatus(s), call->response);
                            });
}

namespace {

// A WriteAck as the core's WriteResult.
std::function<void(Status, const peer::v1::WriteAck&)> ToWriteFn(PeerClient::WriteFn done) {
  return [done = std::move(done)](Status s, const peer::v1::WriteAck& ack) {
    done(WriteResult{std::move(s), ack.members_acked(), ack.members_pending()});
  };
}

}  // namespace

void GrpcPeerClient::Set(std::string_view keyspace, std::string_view key, std::string_view value,
                         Millis ttl_ms, Millis deadline, WriteFn done) {
  auto r = KeyRequest<peer::v1::SetRequest>(keyspace, key);
  r.set_value(std::string(value));
  r.set_ttl_ms(ttl_ms);
  SendWrite<peer::v1::SetRequest, peer::v1::WriteAck>(std::move(r), deadline,
                                                      ToWriteFn(std::move(done)),
                                                      &peer::v1::Peer::Stub::async_interface::Set);
}

void GrpcPeerClient::Delete(std::string_view keyspace, std::string_view key, Millis deadline,
                            WriteFn done) {
  SendWrite<peer::v1::DeleteRequest, peer::v1::WriteAck>(
      KeyRequest<peer::v1::DeleteRequest>(keyspace, key), deadline, ToWriteFn(std::move(done)),
      &peer::v1::Peer::Stub::async_interface::Delete);
}

void GrpcPeerClient::Repair(std::string_view keyspace, std::span<const std::string> keys,
                            bool clear_hot, uint64_t generation, Millis deadline, StatusFn done) {
  size_t max = static_cast<size_t>(std::max(1, options_.max_batch));
  size_t calls = std::max<size_t>(1, (keys.size() + max - 1) / max);
  // The calls' outcome: OK once every one succeeded, else the first error.
  struct Outcome {
    Mutex mu;
    size_t left GUARDED_BY(mu);
    Status first_error GUARDED_BY(mu);
    StatusFn done;
  };
  auto outcome = std::make_shared<Outcome>();
  {
    MutexLock lock(&outcome->mu);
    outcome->left = calls;
  }
  outcome->done = std::move(done);
  for (size_t c = 0; c < calls; ++c) {
    peer::v1::RepairRequest r;
    r.set_keyspace(std::string(keyspace));
    for (size_t i = c * max; i < std::min(keys.size(), (c + 1) * max); ++i) r.add_keys(keys[i]);
    if (c == 0) {
      r.set_clear_hot(clear_hot);
      r.set_generation(generation);
    }
    SendWrite<peer::v1::RepairRequest, peer::v1::Ack>(
        std::move(r), deadline,
        [outcome](Status s, const peer::v1::Ack&) {
          Status result;
          {
            MutexLock lock(&outcome->mu);
            if (!s.ok() && outcome->first_error.ok()) outcome->first_error = std::move(s);
            if (--outcome->left > 0) return;
            result = outcome->first_error;
          }
          outcome->done(std::move(result));
        },
        &peer::v1::Peer::Stub::async_interface::Repair);
  }
}

void GrpcPeerClient::Sync(std::string_view keyspace, Millis deadline, GenerationFn done) {
  peer::v1::SyncRequest r;
  r.set_keyspace(std::string(keyspace));
  SendWrite<peer::v1::SyncRequest, peer::v1::SyncResponse>(
      std::move(r), deadline,
      [done = std::move(done)](Status s, const peer::v1::SyncResponse& response) {
        if (!s.ok()) return done(std::move(s));
        done(response.generation());
      },
      &peer::v1::Peer::Stub::async_interface::Sync);
}

}  // namespace podcache
