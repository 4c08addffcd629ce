#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "transport/peer_client.h"
#include "transport/tls.h"
#include "transport/tls_reloader.h"

namespace podcache {

struct PeerPoolOptions {
  PeerClientOptions client;
  bool insecure = false;             // plaintext peers (local experiments only)
  std::shared_ptr<TlsReloader> tls;  // the material in use; required unless insecure
  // Counts the peers' certificates refused; required with tls.
  std::shared_ptr<TlsRejectionCounters> tls_rejections;
  uint64_t max_message_bytes = 16 << 20;
};

// One GrpcPeerClient (one channel) per remote member. Update() is called with each new member
// set: clients are created for new members and dropped for members that left (their channel
// closes once the calls in flight finish). Client() takes no lock: the map is an immutable
// snapshot swapped atomically. Thread-safe.
class PeerPool {
 public:
  using ClientMap = std::map<std::string, std::shared_ptr<GrpcPeerClient>, std::less<>>;

  explicit PeerPool(PeerPoolOptions options);
  // REQUIRES: one caller at a time (membership's publisher).
  void Update(const std::vector<std::string>& members, const std::string& self);
  std::shared_ptr<GrpcPeerClient> Client(std::string_view member) const;
  std::shared_ptr<const ClientMap> Clients() const { return clients_.load(); }
  const PeerPoolOptions& options() const { return options_; }

 private:
  std::shared_ptr<GrpcPeerClient> Connect(const std::string& member) const;

  const PeerPoolOptions options_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::atomic<std::shared_ptr<const ClientMap>> clients_;
};

}  // namespace podcache
