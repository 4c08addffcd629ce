#include "transport/peer_service.h"

#include <atomic>

#include "transport/grpc_util.h"
#include "transport/response_budget.h"

namespace podcache {

PeerService::PeerService(GroupLookup lookup, int max_keys_per_call, uint64_t max_message_bytes)
    : lookup_(std::move(lookup)),
      max_keys_per_call_(max_keys_per_call),
      max_message_bytes_(max_message_bytes) {}

std::shared_ptr<Group> PeerService::Find(grpc::ServerUnaryReactor* reactor,
                                         const std::string& keyspace) {
  std::shared_ptr<Group> group = lookup_(keyspace);
  if (group == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                 "keyspace \"" + keyspace + "\" is not configured on this peer"));
  }
  return group;
}

grpc::ServerUnaryReactor* PeerService::Get(grpc::CallbackServerContext* ctx,
                                           const peer::v1::GetRequest* request,
                                           peer::v1::GetResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  auto group = Find(reactor, request->keyspace());
  if (group == nullptr) return reactor;
  GetOptions opts{DeadlineOf(*ctx), true, request->ring_fingerprint()};
  group->Get(request->key(), opts, [reactor, response](const GetResult& r) {
    if (r.status.ok()) {
      response->set_value(r.value.value().data(), r.value.value().size());
      response->set_remaining_ttl_ms(r.remaining_ttl_ms);
    }
    reactor->Finish(ToGrpcStatus(r.status));
  });
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::GetBatch(grpc::CallbackServerContext* ctx,
                                                const peer::v1::GetBatchRequest* request,
                                                peer::v1::GetBatchResponse* response) {
  auto* reactor = ctx->DefaultReactor();
  auto group = Find(reactor, request->keyspace());
  if (group == nullptr) return reactor;
  int n = request->keys_size();
  if (n > max_keys_per_call_) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "GetBatch of " + std::to_string(n) + " keys: at most " +
                                     std::to_string(max_keys_per_call_) + " per call"));
    return reactor;
  }
  auto budget = std::make_shared<ResponseBudget>(max_message_bytes_);
  for (int i = 0; i < n; ++i) {
    if (!budget->Reserve(request->keys(i).size())) {
      reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   "GetBatch results cannot fit in max_message_bytes"));
      return reactor;
    }
  }
  if (n == 0) {
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  for (int i = 0; i < n; ++i) response->add_items();
  auto pending = std::make_shared<std::atomic<int>>(n);
  GetOptions opts{DeadlineOf(*ctx), true, request->ring_fingerprint()};
  for (int i = 0; i < n; ++i) {
    peer::v1::GetBatchItem* item = response->mutable_items(i);
    group->Get(request->keys(i), opts, [reactor, item, pending, budget](const GetResult& r) {
      std::string message;
      Status status = budget->Charge(r.status, r.status.ok() ? r.value.value().size() : 0, &message);
      item->set_code(static_cast<int>(status.code()));
      if (status.ok()) {
        item->set_value(r.value.value().data(), r.value.value().size());
        item->set_remaining_ttl_ms(r.remaining_ttl_ms);
      } else {
        item->set_message(std::move(message));
      }
      if (pending->fetch_sub(1, std::memory_order_acq_rel) == 1) reactor->Finish(grpc::Status::OK);
    });
  }
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::Set(grpc::CallbackServerContext* ctx,
                                           const peer::v1::SetRequest* request, peer::v1::Ack*) {
  auto* reactor = ctx->DefaultReactor();
  auto group = Find(reactor, request->keyspace());
  if (group == nullptr) return reactor;
  group->Set(request->key(), request->value(), request->ttl_ms(),
             WriteOptions{DeadlineOf(*ctx), true},
             [reactor](Status s) { reactor->Finish(ToGrpcStatus(s)); });
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::Delete(grpc::CallbackServerContext* ctx,
                                              const peer::v1::DeleteRequest* request,
                                              peer::v1::Ack*) {
  auto* reactor = ctx->DefaultReactor();
  auto group = Find(reactor, request->keyspace());
  if (group == nullptr) return reactor;
  group->Delete(request->key(), WriteOptions{DeadlineOf(*ctx), true},
                [reactor](Status s) { reactor->Finish(ToGrpcStatus(s)); });
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::DropHot(grpc::CallbackServerContext* ctx,
                                               const peer::v1::DropHotRequest* request,
                                               peer::v1::Ack*) {
  auto* reactor = ctx->DefaultReactor();
  auto group = Find(reactor, request->keyspace());
  if (group == nullptr) return reactor;
  group->DropHot(request->key());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::AdvanceGeneration(
    grpc::CallbackServerContext* ctx, const peer::v1::AdvanceGenerationRequest* request,
    peer::v1::Ack*) {
  auto* reactor = ctx->DefaultReactor();
  auto group = Find(reactor, request->keyspace());
  if (group == nullptr) return reactor;
  reactor->Finish(ToGrpcStatus(group->AdvanceGeneration(request->generation())));
  return reactor;
}

}  // namespace podcache
