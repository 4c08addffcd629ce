#include "sidecar/peer_source_factory.h"

#include "discovery/dns_source.h"
#include "discovery/host_port.h"
#include "discovery/static_source.h"

namespace podcache {

StatusOr<std::unique_ptr<PeerSource>> MakePeerSource(const Config& config) {
  if (config.discovery == "static") {
    return std::unique_ptr<PeerSource>(std::make_unique<StaticPeerSource>(
        StaticPeerSource::ParseMembers(config.peers), config.peers_file,
        config.peers_file_poll_ms));
  }
  if (config.discovery == "dns") {
    DnsSourceOptions o;
    o.name = config.dns_name;
    o.port = config.dns_port;
    o.interval_ms = config.dns_interval_ms;
    o.resolver.server = config.dns_server;
    o.resolver.timeout_ms = config.dns_timeout_ms;
    o.resolver.tries = config.dns_tries;
    o.max_members = static_cast<size_t>(config.max_members);
    o.family = FamilyOfHostPort(config.advertise);
    return std::unique_ptr<PeerSource>(std::make_unique<DnsPeerSource>(std::move(o)));
  }
  return InvalidArgumentError("discovery " + config.discovery + " is not built into this binary");
}

}  // namespace podcache
