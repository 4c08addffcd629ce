#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "core/group.h"
#include "podcache/peer/v1/peer.grpc.pb.h"
#include "transport/raw_call.h"

namespace podcache {

// Every method of podcache.peer.v1.Peer taking raw bytes, decoded by PeerService itself (see
// RawCall): a request that does not decode gets INVALID_ARGUMENT with a message.
using RawPeerService =
    peer::v1::Peer::WithRawCallbackMethod_Get<peer::v1::Peer::WithRawCallbackMethod_GetBatch<
        peer::v1::Peer::WithRawCallbackMethod_Set<peer::v1::Peer::WithRawCallbackMethod_Delete<
            peer::v1::Peer::WithRawCallbackMethod_Repair<peer::v1::Peer::WithRawCallbackMethod_Sync<
                peer::v1::Peer::WithRawCallbackMethod_DropHot<
                    peer::v1::Peer::WithRawCallbackMethod_AdvanceGeneration<
                        peer::v1::Peer::CallbackService>>>>>>>>;

// podcache.peer.v1.Peer on gRPC's callback API: the server side of the peer protocol. Every
// request is handed to the keyspace's group marked as coming from a peer, so it is served or
// loaded here and never forwarded. Completes calls from the group's callbacks; no thread waits.
// Thread-safe.
class PeerService final : public RawPeerService {
 public:
  // Finds a keyspace's group by name, or null. Must be thread-safe and outlive the service.
  using GroupLookup = std::function<std::shared_ptr<Group>(std::string_view keyspace)>;
  // A GetBatch or Repair of more than `max_keys_per_call` keys is refused before any work; a
  // GetBatch's response is kept within `max_message_bytes` (ResponseBudget), a Repair's keys too.
  PeerService(GroupLookup lookup, int max_keys_per_call, uint64_t max_message_bytes);

  using Reactor = grpc::ServerUnaryReactor;
  using Context = grpc::CallbackServerContext;
  Reactor* Get(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  Reactor* GetBatch(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  Reactor* Set(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  Reactor* Delete(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  Reactor* Repair(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  Reactor* Sync(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  Reactor* DropHot(Context* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  Reactor* AdvanceGeneration(Context* ctx, const grpc::ByteBuffer* in,
                             grpc::ByteBuffer* out) override;
  Reactor* Ping(Context* ctx, const peer::v1::PingRequest* in,
                peer::v1::PingResponse* out) override;

 private:
  // Decodes the request and finds its keyspace's group; on failure finishes the call (with
  // INVALID_ARGUMENT or NOT_FOUND) and returns null. The caller ends the call with Finish().
  // The call's reactor, its answer marked as the peer's own (kPeerAnswerKey).
  static Reactor* Answering(Context* ctx);
  template <typename Req, typename Resp>
  RawCall<Req, Resp>* Begin(Reactor* reactor, const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
                            std::shared_ptr<Group>* group);
  template <typename Req, typename Resp>
  static void Finish(Reactor* reactor, RawCall<Req, Resp>* call, const Status& status) {
    reactor->Finish(RawCall<Req, Resp>::Complete(call, status));
  }

  GroupLookup lookup_;
  const int max_keys_per_call_;
  const uint64_t max_message_bytes_;
};

}  // namespace podcache
