#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/keyspace_options.h"
#include "core/status.h"

namespace podcache {

// How one keyspace fills its misses (docs/design.md, "The request path").
struct LoaderConfig {
  enum class Kind { kNone, kHttp, kGrpc };
  Kind kind = Kind::kNone;
  // http: URL template with {keyspace} and {key}; grpc: the target of podcache.v1.Loader.
  std::string target;
  Millis timeout_ms = 2000;      // one loader call, whoever waits for it
  uint64_t max_value_bytes = 0;  // 0: the keyspace's max_value_bytes
};

struct KeyspaceConfig {
  KeyspaceOptions options;
  LoaderConfig loader;
  bool max_value_bytes_set = false;  // given explicitly (else the default is what a check names)
};

// Everything `podcache` is configured with. Each scalar field is an option with three spellings:
// the flag --api-listen, the variable PODCACHE_API_LISTEN and the YAML key api_listen (see
// config_loader.h for the precedence).
struct Config {
  std::string api_listen = "127.0.0.1:7070";  // host:port or unix:/path
  bool api_allow_remote = false;              // allow a non-loopback api_listen
  uint32_t api_socket_mode = 0660;            // file mode of the unix socket
  std::string api_token;                      // when set, calls need "authorization: Bearer <t>"
  std::string api_token_file;                 // or read it from this file
  uint64_t max_message_bytes = 16 << 20;      // larger requests: RESOURCE_EXHAUSTED
  int max_keys_per_call = 10000;              // keys of one GetMany / peer GetBatch
  std::string http_listen = "0.0.0.0:7072";   // /metrics, /healthz, /readyz, /debug/...
  Millis shutdown_grace_ms = 10000;           // drain time for in-flight calls after SIGTERM
  Millis reap_interval_ms = 1000;             // how often expired entries are reclaimed
  std::string log_level = "info";             // debug, info, warn, error
  std::vector<KeyspaceConfig> keyspaces;

  // The cluster (off while discovery is static with no peers: a single node).
  std::string peer_listen = "0.0.0.0:7071";  // the peer API (mTLS)
  std::string advertise;                     // this node's peer address as the others dial it
  std::string discovery = "static";          // static, dns, kubernetes or nats
  int max_members = 1024;                    // larger member sets are cut (and logged)
  std::string peers;                         // static: comma-separated host:port list
  std::string peers_file;                    // static: file of members, re-read on change
  Millis peers_file_poll_ms = 1000;
  // kubernetes: EndpointSlices of the headless Service (discovery/kubernetes_source.h).
  std::string k8s_service;             // required with discovery kubernetes
  std::string k8s_namespace;           // default: the pod's (serviceaccount/namespace)
  std::string k8s_port_name = "peer";  // the EndpointSlice port that is the peer port
  std::string k8s_api_url;             // default: https://$KUBERNETES_SERVICE_HOST:PORT
  std::string k8s_serviceaccount_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  Millis k8s_watch_timeout_ms = 300000;  // server-side timeoutSeconds of one watch
  Millis k8s_token_reload_ms = 60000;    // the token is re-read this often (and after 401)
  // dns: SRV (or A/AAAA with dns_port) records of a headless Service (discovery/dns_source.h).
  std::string dns_name;           // required with discovery dns
  int dns_port = 0;               // 0: SRV records give ports; else A/AAAA + this port
  Millis dns_interval_ms = 5000;  // re-resolved this often
  std::string dns_server;         // host:port; default: /etc/resolv.conf
  Millis dns_timeout_ms = 1000;   // one query try
  int dns_tries = 2;
  // nats: announce/heartbeat/leave on a subject (discovery/nats_source.h).
  std::string nats_url;                   // required with discovery nats, e.g. nats://h:4222
  std::string cluster_name = "podcache";  // names the default subject
  std::string nats_subject;               // default: podcache.discovery.<cluster_name>
  Millis nats_heartbeat_ms = 1000;
  Millis nats_expiry_ms = 5000;  // members silent this long are dropped
  std::string nats_creds;        // .creds file (JWT + NKey)
  std::string nats_user, nats_password, nats_token;
  std::string nats_tls_ca, nats_tls_cert, nats_tls_key;
  std::string tls_cert, tls_key, tls_ca;        // PEM files, watched and reloaded
  std::string tls_peer_name = "podcache-peer";  // the DNS SAN every peer certificate carries
  Millis tls_reload_interval_ms = 10000;
  bool insecure_peers = false;       // plaintext peers, for local experiments only
  Millis peer_timeout_ms = 1000;     // bound of one peer call
  int peer_max_inflight = 16;        // calls in flight to one peer (then Gets batch)
  int peer_max_batch = 64;           // keys per batched peer Get
  Millis write_ack_wait_ms = 50;     // how long a write's owner waits for the members' acks
  Millis repair_interval_ms = 200;   // how often undelivered drops are re-sent per member
  int repair_max_keys = 10000;       // undelivered drops kept per member and keyspace
  int peer_eject_failures = 3;       // consecutive failed peer calls that eject the peer
  Millis peer_eject_time_ms = 1000;  // the first ejection; doubles per consecutive ejection ...
  Millis peer_eject_max_time_ms = 10000;  // ... up to this; a success resets it
  // Wait this long for a key's owner before a local load starts in parallel (first answer
  // wins): kAutoHedgeDelay ("auto") = from the peer's p99; 0 = never.
  static constexpr Millis kAutoHedgeDelay = -1;
  Millis peer_hedge_delay_ms = kAutoHedgeDelay;
  Millis membership_debounce_ms = 200;

  // True when this node has (or may get) peers.
  bool clustered() const { return discovery != "static" || !peers.empty() || !peers_file.empty(); }

  // Checks everything that does not need the network; the message names the option.
  Status Validate() const;

  // gRPC takes message sizes as int; beyond 1GiB a cache sidecar is misconfigured anyway.
  static constexpr uint64_t kMaxMessageBytesLimit = uint64_t{1} << 30;
  static constexpr int kMaxKeysPerCallLimit = 1000000;
  // One node serves at most this many keyspaces (each has its own stores and counters).
  static constexpr size_t kMaxKeyspaces = 1000;
};

// Sets one keyspace field from text, as written in YAML or in a --keyspace spec: max_bytes,
// default_ttl (or ttl), max_ttl, negative_ttl, eviction, hot_share, max_key_bytes,
// max_value_bytes, load_concurrency, load_queue, load_timeout, hot_ttl, hot_promote_hits,
// hot_window, fallback_ttl, stale_while_revalidate, stale_if_error, loader_breaker_failures,
// loader_breaker_time, loader_breaker_max_time, loader (a URL for http, grpc://target, or none),
// loader_timeout, loader_max_value_bytes. The message names the field.
Status SetKeyspaceField(KeyspaceConfig* ks, const std::string& field, const std::string& value);

// Parses "users:max_bytes=64MiB,ttl=5m,loader=http://127.0.0.1:8080/cache/{keyspace}/{key}".
StatusOr<KeyspaceConfig> ParseKeyspaceSpec(const std::string& spec);

// nats_subject, or podcache.discovery.<cluster_name> when it is not set.
std::string NatsSubject(const Config& config);

// True for 127.0.0.0/8, ::1, localhost and unix: addresses.
bool IsLoopbackListen(const std::string& listen);

}  // namespace podcache
