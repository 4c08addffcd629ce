#include "sidecar/peer_source_factory.h"

#include "discovery/kubernetes_source.h"
#include "discovery/static_source.h"

namespace podcache {

StatusOr<std::unique_ptr<PeerSource>> MakePeerSource(const Config& config) {
  if (config.discovery == "static") {
    return std::unique_ptr<PeerSource>(std::make_unique<StaticPeerSource>(
        StaticPeerSource::ParseMembers(config.peers), config.peers_file,
        config.peers_file_poll_ms));
  }
  if (config.discovery == "kubernetes") {
    KubernetesSourceOptions k;
    k.service = config.k8s_service;
    k.namespace_name = config.k8s_namespace;
    k.port_name = config.k8s_port_name;
    k.api_url = config.k8s_api_url;
    k.serviceaccount_dir = config.k8s_serviceaccount_dir;
    k.watch_timeout_ms = config.k8s_watch_timeout_ms;
    k.token_reload_ms = config.k8s_token_reload_ms;
    return std::unique_ptr<PeerSource>(std::make_unique<KubernetesPeerSource>(std::move(k)));
  }
  return InvalidArgumentError("discovery " + config.discovery + " is not built into this binary");
}

}  // namespace podcache
