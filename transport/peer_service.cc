#include "transport/peer_service.h"

#include <string_view>
#include <vector>

#include "transport/grpc_util.h"
#include "transport/off_grpc_thread.h"
#include "transport/response_budget.h"

namespace podcache {

using namespace peer::v1;  // NOLINT: the message types of the peer protocol

PeerService::PeerService(GroupLookup lookup, int max_keys_per_call, uint64_t max_message_bytes)
    : lookup_(std::move(lookup)),
      max_keys_per_call_(max_keys_per_call),
      max_message_bytes_(max_message_bytes) {}

grpc::ServerUnaryReactor* PeerService::Answering(Context* ctx) {
  MarkGrpcThread();  // a handler runs on one of gRPC's threads
  ctx->AddTrailingMetadata(kPeerAnswerKey, "1");
  return ctx->DefaultReactor();
}

template <typename Req, typename Resp>
RawCall<Req, Resp>* PeerService::Begin(Reactor* reactor, const grpc::ByteBuffer* in,
                                       grpc::ByteBuffer* out, std::shared_ptr<Group>* group) {
  Status error;
  std::unique_ptr<RawCall<Req, Resp>> call = RawCall<Req, Resp>::Decode(in, out, &error);
  if (call == nullptr) {
    reactor->Finish(ToGrpcStatus(error));
    return nullptr;
  }
  const std::string& name = call->request.keyspace();
  *group = lookup_(name);
  if (*group == nullptr) {
    reactor->Finish(ToGrpcStatus(
        IsValidKeyspaceName(name)
            ? NotFoundError("keyspace \"" + name + "\" is not configured on this peer")
            : InvalidArgumentError("a keyspace name is 1-64 characters of [A-Za-z0-9_.-]")));
    return nullptr;
  }
  return call.release();
}

grpc::ServerUnaryReactor* PeerService::Get(Context* ctx, const grpc::ByteBuffer* in,
                                           grpc::ByteBuffer* out) {
  auto* reactor = Answering(ctx);
  std::shared_ptr<Group> group;
  auto* call = Begin<GetRequest, GetResponse>(reactor, in, out, &group);
  if (call == nullptr) return reactor;
  GetOptions opts{DeadlineOf(*ctx), true, call->request.ring_fingerprint()};
  // The call succeeds whatever the group answers: the answer (a value, NOT_FOUND, a loader error)
  // travels in the body, so the sender can tell it from a failed call.
  group->Get(call->request.key(), opts, [reactor, call](const GetResult& r) {
    if (r.status.ok()) {
      call->response.set_value(r.value.value().data(), r.value.value().size());
      call->response.set_remaining_ttl_ms(r.remaining_ttl_ms);
      call->response.set_stale(r.source == ValueSource::kStale);
    } else {
      call->response.set_code(static_cast<int>(r.status.code()));
      call->response.set_message(r.status.message());
    }
    Finish(reactor, call, OkStatus());
  });
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::GetBatch(Context* ctx, const grpc::ByteBuffer* in,
                                                grpc::ByteBuffer* out) {
  auto* reactor = Answering(ctx);
  std::shared_ptr<Group> group;
  auto* call = Begin<GetBatchRequest, GetBatchResponse>(reactor, in, out, &group);
  if (call == nullptr) return reactor;
  const GetBatchRequest& request = call->request;
  int n = request.keys_size();
  if (n > max_keys_per_call_) {
    Finish(reactor, call,
           ResourceExhaustedError("GetBatch of " + std::to_string(n) + " keys: at most " +
                                  std::to_string(max_keys_per_call_) + " per call"));
    return reactor;
  }
  auto budget = std::make_shared<ResponseBudget>(max_message_bytes_);
  for (int i = 0; i < n; ++i) {
    if (!budget->Reserve(request.keys(i).size())) {
      Finish(reactor, call,
             ResourceExhaustedError("GetBatch results cannot fit in max_message_bytes"));
      return reactor;
    }
  }
  if (n == 0) {
    Finish(reactor, call, OkStatus());
    return reactor;
  }
  for (int i = 0; i < n; ++i) call->response.add_items();
  std::vector<std::string_view> keys(request.keys().begin(), request.keys().end());
  GetOptions opts{DeadlineOf(*ctx), true, request.ring_fingerprint()};
  group->GetMany(
      keys, opts,
      [call, budget](size_t i, const GetResult& r) {
        GetBatchItem* item = call->response.mutable_items(static_cast<int>(i));
        if (!budget->ChargeInto(r.status, r.status.ok() ? r.value.value().size() : 0, item)) {
          return;
        }
        item->set_value(r.value.value().data(), r.value.value().size());
        item->set_remaining_ttl_ms(r.remaining_ttl_ms);
        item->set_stale(r.source == ValueSource::kStale);
      },
      [reactor, call] { Finish(reactor, call, OkStatus()); });
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::Set(Context* ctx, const grpc::ByteBuffer* in,
                                           grpc::ByteBuffer* out) {
  auto* reactor = Answering(ctx);
  std::shared_ptr<Group> group;
  auto* call = Begin<SetRequest, WriteAck>(reactor, in, out, &group);
  if (call == nullptr) return reactor;
  group->Set(call->request.key(), call->request.value(), call->request.ttl_ms(),
             WriteOptions{DeadlineOf(*ctx), true}, [reactor, call](const WriteResult& r) {
               call->response.set_members_acked(r.members_acked);
               call->response.set_members_pending(r.members_pending);
               Finish(reactor, call, r.status);
             });
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::Delete(Context* ctx, const grpc::ByteBuffer* in,
                                              grpc::ByteBuffer* out) {
  auto* reactor = Answering(ctx);
  std::shared_ptr<Group> group;
  auto* call = Begin<DeleteRequest, WriteAck>(reactor, in, out, &group);
  if (call == nullptr) return reactor;
  group->Delete(call->request.key(), WriteOptions{DeadlineOf(*ctx), true},
                [reactor, call](const WriteResult& r) {
                  call->response.set_members_acked(r.members_acked);
                  call->response.set_members_pending(r.members_pending);
                  Finish(reactor, call, r.status);
                });
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::Repair(Context* ctx, const grpc::ByteBuffer* in,
                                              grpc::ByteBuffer* out) {
  auto* reactor = ctx->DefaultReactor();
  std::shared_ptr<Group> group;
  auto* call = Begin<RepairRequest, Ack>(reactor, in, out, &group);
  if (call == nullptr) return reactor;
  const RepairRequest& request = call->request;
  int n = request.keys_size();
  if (n > max_keys_per_call_) {
    Finish(reactor, call,
           ResourceExhaustedError("Repair of " + std::to_string(n) + " keys: at most " +
                                  std::to_string(max_keys_per_call_) + " per call"));
    return reactor;
  }
  uint64_t bytes = 0;
  for (const std::string& key : request.keys()) bytes += key.size();
  if (bytes > max_message_bytes_) {
    Finish(reactor, call, ResourceExhaustedError("Repair keys exceed max_message_bytes"));
    return reactor;
  }
  std::vector<std::string_view> keys(request.keys().begin(), request.keys().end());
  Finish(reactor, call, group->Repair(keys, request.clear_hot(), request.generation()));
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::Sync(Context* ctx, const grpc::ByteBuffer* in,
                                            grpc::ByteBuffer* out) {
  auto* reactor = ctx->DefaultReactor();
  std::shared_ptr<Group> group;
  auto* call = Begin<SyncRequest, SyncResponse>(reactor, in, out, &group);
  if (call == nullptr) return reactor;
  call->response.set_generation(group->generation());
  Finish(reactor, call, OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::DropHot(Context* ctx, const grpc::ByteBuffer* in,
                                               grpc::ByteBuffer* out) {
  auto* reactor = Answering(ctx);
  std::shared_ptr<Group> group;
  auto* call = Begin<DropHotRequest, Ack>(reactor, in, out, &group);
  if (call == nullptr) return reactor;
  group->DropHot(call->request.key());
  Finish(reactor, call, OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::AdvanceGeneration(Context* ctx, const grpc::ByteBuffer* in,
                                                         grpc::ByteBuffer* out) {
  auto* reactor = Answering(ctx);
  std::shared_ptr<Group> group;
  auto* call = Begin<AdvanceGenerationRequest, Ack>(reactor, in, out, &group);
  if (call == nullptr) return reactor;
  Finish(reactor, call, group->AdvanceGeneration(call->request.generation()));
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::Ping(Context* ctx, const PingRequest*, PingResponse*) {
  auto* reactor = Answering(ctx);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace podcache
