#include "sidecar/peer_source_factory.h"

#include "discovery/dns_source.h"
#include "discovery/host_port.h"
#include "discovery/kubernetes_source.h"
#include "discovery/nats_source.h"
#include "discovery/static_source.h"

namespace podcache {

StatusOr<std::unique_ptr<PeerSource>> MakePeerSource(const Config& config) {
  if (config.discovery == "static") {
    return std::unique_ptr<PeerSource>(
        std::make_unique<StaticPeerSource>(StaticPeerSource::ParseMembers(config.peers),
                                           config.peers_file, config.peers_file_poll_ms));
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
  if (config.discovery == "nats") {
    NatsSourceOptions o;
    o.url = config.nats_url;
    o.subject = NatsSubject(config);
    o.self = config.advertise;
    o.heartbeat_ms = config.nats_heartbeat_ms;
    o.expiry_ms = config.nats_expiry_ms;
    o.max_members = static_cast<size_t>(config.max_members);
    o.creds_file = config.nats_creds;
    o.user = config.nats_user;
    o.password = config.nats_password;
    o.token = config.nats_token;
    o.tls_ca = config.nats_tls_ca;
    o.tls_cert = config.nats_tls_cert;
    o.tls_key = config.nats_tls_key;
    return std::unique_ptr<PeerSource>(std::make_unique<NatsPeerSource>(std::move(o)));
  }
  return InvalidArgumentError("discovery " + config.discovery + " is not built into this binary");
}

}  // namespace podcache
