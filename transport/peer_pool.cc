#include "transport/peer_pool.h"

#include <grpcpp/grpcpp.h>

namespace podcache {

PeerPool::PeerPool(PeerPoolOptions options)
    : options_(std::move(options)),
      credentials_(options_.insecure
                       ? grpc::InsecureChannelCredentials()
                       : PeerChannelCredentials(options_.tls, options_.tls_rejections)),
      clients_(std::make_shared<const ClientMap>()) {}

std::shared_ptr<GrpcPeerClient> PeerPool::Connect(const std::string& member) const {
  grpc::ChannelArguments args;
  int max = static_cast<int>(std::min<uint64_t>(options_.max_message_bytes, INT32_MAX));
  args.SetMaxReceiveMessageSize(max);
  args.SetMaxSendMessageSize(max);
  // Peers are dialled by address; their certificates name the cluster's peer identity.
  if (!options_.insecure) args.SetSslTargetNameOverride(options_.tls->files().peer_name);
  // Reconnect quickly after a peer restarts (gRPC's default starts at 1 s and grows to 120 s).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A connection that stopped answering (a partition: packets dropped, TCP retransmitting with a
  // growing timeout) is found by a 1 s keepalive and replaced, instead of holding every call -
  // writes' invalidation repair included - until TCP gives up; a connect attempt that is not
  // answered is abandoned after 1 s. So calls go through again about a second after a partition
  // heals (the server permits these pings: StartGrpcServer).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  // A private subchannel per member, so pools of different nodes in one process never share one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(member, credentials_, args);
  return std::make_shared<GrpcPeerClient>(member, std::move(channel), options_.client);
}

void PeerPool::Update(const std::vector<std::string>& members, const std::string& self) {
  std::shared_ptr<const ClientMap> old = clients_.load();
  auto next = std::make_shared<ClientMap>();
  for (const std::string& m : members) {
    if (m == self) continue;
    auto it = old->find(m);
    (*next)[m] = it != old->end() ? it->second : Connect(m);
  }
  clients_.store(std::move(next));
}

std::shared_ptr<GrpcPeerClient> PeerPool::Client(std::string_view member) const {
  std::shared_ptr<const ClientMap> map = clients_.load();
  auto it = map->find(member);
  return it == map->end() ? nullptr : it->second;
}

}  // namespace podcache
