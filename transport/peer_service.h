#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "core/group.h"
#include "podcache/peer/v1/peer.grpc.pb.h"

namespace podcache {

// podcache.peer.v1.Peer on gRPC's callback API: the server side of the peer protocol. Every
// request is handed to the keyspace's group marked as coming from a peer, so it is served or
// loaded here and never forwarded. Completes calls from the group's callbacks; no thread waits.
// Thread-safe.
class PeerService final : public peer::v1::Peer::CallbackService {
 public:
  // Finds a keyspace's group by name, or null. Must be thread-safe and outlive the service.
  using GroupLookup = std::function<std::shared_ptr<Group>(std::string_view keyspace)>;
  // A GetBatch of more than `max_keys_per_call` keys is refused before any work; its response is
  // kept within `max_message_bytes` (ResponseBudget).
  PeerService(GroupLookup lookup, int max_keys_per_call, uint64_t max_message_bytes);

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const peer::v1::GetRequest* request,
                                peer::v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* GetBatch(grpc::CallbackServerContext* ctx,
                                     const peer::v1::GetBatchRequest* request,
                                     peer::v1::GetBatchResponse* response) override;
  grpc::ServerUnaryReactor* Set(grpc::CallbackServerContext* ctx,
                                const peer::v1::SetRequest* request,
                                peer::v1::Ack* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const peer::v1::DeleteRequest* request,
                                   peer::v1::Ack* response) override;
  grpc::ServerUnaryReactor* DropHot(grpc::CallbackServerContext* ctx,
                                    const peer::v1::DropHotRequest* request,
                                    peer::v1::Ack* response) override;
  grpc::ServerUnaryReactor* AdvanceGeneration(grpc::CallbackServerContext* ctx,
                                              const peer::v1::AdvanceGenerationRequest* request,
                                              peer::v1::Ack* response) override;

 private:
  // The group of `keyspace`, or null after finishing the call with NOT_FOUND.
  std::shared_ptr<Group> Find(grpc::ServerUnaryReactor* reactor, const std::string& keyspace);

  GroupLookup lookup_;
  const int max_keys_per_call_;
  const uint64_t max_message_bytes_;
};

}  // namespace podcache
