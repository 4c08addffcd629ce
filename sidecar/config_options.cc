#include "sidecar/config_options.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "sidecar/units.h"

namespace podcache {
namespace {

// An option whose text `parse` turns into the field's value (StatusOr of the field's type, an
// error naming the value) and `show` renders back.
template <typename T, typename Parse, typename Show>
ConfigOption Typed(const char* flag, const char* yaml, const char* help, T Config::*field,
                   Parse parse, Show show, bool is_bool = false) {
  return {flag,
          yaml,
          help,
          is_bool,
          [field, yaml, parse](Config& c, const std::string& v) -> Status {
            StatusOr<T> parsed = parse(v);
            if (!parsed.ok()) {
              return InvalidArgumentError(std::string(yaml) + ": " + parsed.status().message());
            }
            c.*field = std::move(parsed).value();
            return OkStatus();
          },
          [field, show](const Config& c) -> std::string { return show(c.*field); }};
}

StatusOr<std::string> ParseText(const std::string& v) { return v; }
std::string ShowText(const std::string& v) { return v; }

StatusOr<int> ParseInt(const std::string& v) {
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < INT32_MIN || n > INT32_MAX) {
    return InvalidArgumentError("\"" + v + "\" is not an integer");
  }
  return static_cast<int>(n);
}
std::string ShowInt(int v) { return std::to_string(v); }

StatusOr<bool> ParseBool(const std::string& v) {
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return InvalidArgumentError("\"" + v + "\" is not true or false");
}
std::string ShowBool(bool v) { return v ? "true" : "false"; }

StatusOr<uint32_t> ParseFileMode(const std::string& v) {
  char* end = nullptr;
  unsigned long mode = std::strtoul(v.c_str(), &end, 8);
  if (v.empty() || *end != '\0' || mode > 0777) {
    return InvalidArgumentError("\"" + v + "\" is not an octal mode");
  }
  return static_cast<uint32_t>(mode);
}
std::string FormatFileMode(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0%o", mode);
  return buf;
}

// "auto" or a duration (0 = off).
StatusOr<Millis> ParseHedgeDelay(const std::string& v) {
  if (v == "auto") return Config::kAutoHedgeDelay;
  StatusOr<Millis> d = ParseDuration(v);
  if (!d.ok()) {
    return InvalidArgumentError("\"" + v + "\" is neither auto nor a duration (0 = off)");
  }
  return d;
}
std::string ShowHedgeDelay(Millis v) {
  return v == Config::kAutoHedgeDelay ? "auto" : FormatDuration(v);
}

ConfigOption Text(const char* flag, const char* yaml, const char* help,
                  std::string Config::*field) {
  return Typed(flag, yaml, help, field, ParseText, ShowText);
}
ConfigOption Bytes(const char* flag, const char* yaml, const char* help, uint64_t Config::*field) {
  return Typed(flag, yaml, help, field, ParseBytes, FormatBytes);
}
ConfigOption Duration(const char* flag, const char* yaml, const char* help, Millis Config::*field) {
  return Typed(flag, yaml, help, field, ParseDuration, FormatDuration);
}
ConfigOption Int(const char* flag, const char* yaml, const char* help, int Config::*field) {
  return Typed(flag, yaml, help, field, ParseInt, ShowInt);
}
ConfigOption Bool(const char* flag, const char* yaml, const char* help, bool Config::*field) {
  return Typed(flag, yaml, help, field, ParseBool, ShowBool, /*is_bool=*/true);
}

}  // namespace

const std::vector<ConfigOption>& ConfigOptions() {
  static const std::vector<ConfigOption> kOptions = {
      Text("api-listen", "api_listen", "App API address: host:port or unix:/path",
           &Config::api_listen),
      Bool("api-allow-remote", "api_allow_remote",
           "Allow a non-loopback --api-listen (the app API has no TLS)", &Config::api_allow_remote),
      Typed("api-socket-mode", "api_socket_mode", "File mode of the unix socket (octal)",
            &Config::api_socket_mode, ParseFileMode, FormatFileMode),
      Text("api-token", "api_token", "Require 'authorization: Bearer <token>' on app API calls",
           &Config::api_token),
      Text("api-token-file", "api_token_file", "Read the API token from this file",
           &Config::api_token_file),
      Bytes("max-message-bytes", "max_message_bytes",
            "Largest request or response (1KiB to 1GiB); larger requests get RESOURCE_EXHAUSTED",
            &Config::max_message_bytes),
      Int("max-keys-per-call", "max_keys_per_call",
          "Most keys in one GetMany (and peer GetBatch); more get INVALID_ARGUMENT before any "
          "work",
          &Config::max_keys_per_call),
      Text("http-listen", "http_listen", "Address of /metrics, /healthz, /readyz and /debug/",
           &Config::http_listen),
      Duration("shutdown-grace", "shutdown_grace",
               "After SIGTERM, how long in-flight calls may finish", &Config::shutdown_grace_ms),
      Duration("reap-interval", "reap_interval", "How often expired entries are reclaimed",
               &Config::reap_interval_ms),
      Text("log-level", "log_level", "debug, info, warn or error", &Config::log_level),
      Text("peer-listen", "peer_listen", "Peer API address (mTLS)", &Config::peer_listen),
      Text("advertise", "advertise",
           "This node's peer address as the others dial it (host:port; an IPv6 address is "
           "bracketed for you: ${POD_IP}:7071 works on IPv6 pods too)",
           &Config::advertise),
      Text("discovery", "discovery.mode", "How peers are found: static, dns, kubernetes or nats",
           &Config::discovery),
      Text("peers", "discovery.static.peers", "static: comma-separated peer addresses (host:port)",
           &Config::peers),
      Text("peers-file", "discovery.static.file",
           "static: a file of peer addresses, re-read when it changes", &Config::peers_file),
      Duration("peers-file-poll", "discovery.static.poll", "static: how often the file is read",
               &Config::peers_file_poll_ms),
      Int("max-members", "discovery.max_members",
          "Largest member set accepted from discovery (more are cut, and logged)",
          &Config::max_members),
      Text("k8s-service", "discovery.kubernetes.service",
           "kubernetes: the headless Service whose EndpointSlices are the peers",
           &Config::k8s_service),
      Text("k8s-namespace", "discovery.kubernetes.namespace",
           "kubernetes: the Service's namespace (default: the pod's)", &Config::k8s_namespace),
      Text("k8s-port-name", "discovery.kubernetes.port_name",
           "kubernetes: the EndpointSlice port that is the peer port", &Config::k8s_port_name),
      Text("k8s-api-url", "discovery.kubernetes.api_url",
           "kubernetes: API server URL (default: from KUBERNETES_SERVICE_HOST/PORT)",
           &Config::k8s_api_url),
      Text("k8s-serviceaccount-dir", "discovery.kubernetes.serviceaccount_dir",
           "kubernetes: directory of token, ca.crt and namespace", &Config::k8s_serviceaccount_dir),
      Duration("k8s-watch-timeout", "discovery.kubernetes.watch_timeout",
               "kubernetes: how long one watch request lasts before it is renewed",
               &Config::k8s_watch_timeout_ms),
      Duration("k8s-token-reload", "discovery.kubernetes.token_reload",
               "kubernetes: how often the service-account token is re-read",
               &Config::k8s_token_reload_ms),
      Text("dns-name", "discovery.dns.name",
           "dns: the name to resolve (SRV, e.g. _peer._tcp.svc.ns.svc.cluster.local, or A/AAAA)",
           &Config::dns_name),
      Int("dns-port", "discovery.dns.port",
          "dns: 0 for SRV records; else resolve A/AAAA and use this peer port", &Config::dns_port),
      Duration("dns-interval", "discovery.dns.interval", "dns: how often the name is re-resolved",
               &Config::dns_interval_ms),
      Text("dns-server", "discovery.dns.server",
           "dns: DNS server host:port (default: the system resolver configuration)",
           &Config::dns_server),
      Duration("dns-timeout", "discovery.dns.timeout", "dns: timeout of one query try",
               &Config::dns_timeout_ms),
      Int("dns-tries", "discovery.dns.tries", "dns: tries per query", &Config::dns_tries),
      Text("nats-url", "discovery.nats.url", "nats: server URL(s), comma-separated",
           &Config::nats_url),
      Text("cluster-name", "cluster_name", "Name of this cache cluster (names the NATS subject)",
           &Config::cluster_name),
      Text("nats-subject", "discovery.nats.subject",
           "nats: subject of announcements (default podcache.discovery.<cluster-name>)",
           &Config::nats_subject),
      Duration("nats-heartbeat", "discovery.nats.heartbeat", "nats: heartbeat interval",
               &Config::nats_heartbeat_ms),
      Duration("nats-expiry", "discovery.nats.expiry",
               "nats: members without a heartbeat for this long are dropped",
               &Config::nats_expiry_ms),
      Text("nats-creds", "discovery.nats.creds", "nats: credentials file (JWT + NKey seed)",
           &Config::nats_creds),
      Text("nats-user", "discovery.nats.user", "nats: user name", &Config::nats_user),
      Text("nats-password", "discovery.nats.password", "nats: password", &Config::nats_password),
      Text("nats-token", "discovery.nats.token", "nats: authentication token", &Config::nats_token),
      Text("nats-tls-ca", "discovery.nats.tls_ca", "nats: CA file to verify the server",
           &Config::nats_tls_ca),
      Text("nats-tls-cert", "discovery.nats.tls_cert", "nats: client certificate (PEM)",
           &Config::nats_tls_cert),
      Text("nats-tls-key", "discovery.nats.tls_key", "nats: client key (PEM)",
           &Config::nats_tls_key),
      Text("tls-cert", "tls.cert", "Peer certificate (PEM), reloaded when it changes",
           &Config::tls_cert),
      Text("tls-key", "tls.key", "Peer private key (PEM)", &Config::tls_key),
      Text("tls-ca", "tls.ca", "CA that signs every peer certificate (PEM)", &Config::tls_ca),
      Text("tls-peer-name", "tls.peer_name", "DNS SAN every peer certificate must carry",
           &Config::tls_peer_name),
      Duration("tls-reload-interval", "tls.reload_interval", "How often the TLS files are re-read",
               &Config::tls_reload_interval_ms),
      Bool("insecure-peers", "insecure_peers",
           "Plaintext peer traffic: for local experiments only, never in production",
           &Config::insecure_peers),
      Duration("peer-timeout", "peer_timeout", "Deadline of one call to a peer",
               &Config::peer_timeout_ms),
      Typed("peer-hedge-delay", "peer_hedge_delay",
            "Wait this long for a key's owner before loading locally in parallel (first answer "
            "wins): auto (twice the keyspace's load p99 + twice the peer's p99 within 5-50ms), a "
            "duration, or 0 = never",
            &Config::peer_hedge_delay_ms, ParseHedgeDelay, ShowHedgeDelay),
      Int("peer-max-inflight", "peer_max_inflight",
          "Calls in flight to one peer; more Gets are batched", &Config::peer_max_inflight),
      Int("peer-max-batch", "peer_max_batch", "Keys per batched peer Get", &Config::peer_max_batch),
      Duration("write-ack-wait", "write_ack_wait",
               "How long the owner of a written key waits for the other members' acks before "
               "answering (never fails the write; 0 = answer at once)",
               &Config::write_ack_wait_ms),
      Duration("repair-interval", "repair_interval",
               "How often undelivered hot-copy drops and generation bumps are re-sent per member",
               &Config::repair_interval_ms),
      Int("repair-max-keys", "repair_max_keys",
          "Undelivered drops kept per member and keyspace; beyond, the member is told to clear "
          "its hot store for the keyspace",
          &Config::repair_max_keys),
      Int("peer-eject-failures", "peer_eject_failures",
          "Consecutive failed calls (timeouts, connection failures) that eject a peer: its keys "
          "are then loaded locally",
          &Config::peer_eject_failures),
      Duration("peer-eject-time", "peer_eject_time",
               "First ejection of a failing peer; doubles per consecutive ejection",
               &Config::peer_eject_time_ms),
      Duration("peer-eject-max-time", "peer_eject_max_time",
               "Longest ejection of a failing peer; a success resets the doubling",
               &Config::peer_eject_max_time_ms),
      Duration("membership-debounce", "membership_debounce",
               "Member changes within this time give one new ring",
               &Config::membership_debounce_ms),
  };
  return kOptions;
}

std::string EnvName(const std::string& flag) {
  std::string name = "PODCACHE_";
  for (char c : flag) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

}  // namespace podcache
