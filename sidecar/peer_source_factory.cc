#include "sidecar/peer_source_factory.h"

#include "discovery/static_source.h"

namespace podcache {

StatusOr<std::unique_ptr<PeerSource>> MakePeerSource(const Config& config) {
  if (config.discovery == "static") {
    return std::unique_ptr<PeerSource>(std::make_unique<StaticPeerSource>(
        StaticPeerSource::ParseMembers(config.peers), config.peers_file,
        config.peers_file_poll_ms));
  }
  return InvalidArgumentError("discovery " + config.discovery + " is not built into this binary");
}

}  // namespace podcache
