#include "sidecar/config.h"

#include <charconv>
#include <set>

#include "sidecar/http_url.h"
#include "sidecar/units.h"

namespace podcache {
namespace {

template <typename T>
Status ParseInt(const std::string& field, const std::string& value, T* out) {
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), *out);
  if (ec != std::errc() || ptr != value.data() + value.size()) {
    return InvalidArgumentError(field + ": \"" + value + "\" is not an integer");
  }
  return OkStatus();
}

Status Named(const std::string& field, Status s) {
  return s.ok() ? s : Status(s.code(), field + ": " + s.message());
}

Status SetBytes(const std::string& field, const std::string& value, uint64_t* out) {
  auto v = ParseBytes(value);
  if (!v.ok()) return Named(field, v.status());
  *out = v.value();
  return OkStatus();
}

Status SetDuration(const std::string& field, const std::string& value, Millis* out) {
  auto v = ParseDuration(value);
  if (!v.ok()) return Named(field, v.status());
  *out = v.value();
  return OkStatus();
}

Status SetLoader(LoaderConfig* loader, const std::string& value) {
  if (value == "none" || value.empty()) {
    *loader =
        LoaderConfig{LoaderConfig::Kind::kNone, "", loader->timeout_ms, loader->max_value_bytes};
  } else if (value.rfind("http://", 0) == 0 || value.rfind("https://", 0) == 0) {
    loader->kind = LoaderConfig::Kind::kHttp;
    loader->target = value;
  } else if (value.rfind("grpc://", 0) == 0) {
    loader->kind = LoaderConfig::Kind::kGrpc;
    loader->target = value.substr(7);
  } else {
    return InvalidArgumentError("loader: \"" + value +
                                "\" is not http(s)://URL, grpc://host:port or none");
  }
  return OkStatus();
}

Status ValidateLoader(const LoaderConfig& l) {
  if (l.timeout_ms <= 0) return InvalidArgumentError("loader timeout must be > 0");
  if (l.kind == LoaderConfig::Kind::kHttp && l.target.find("{key}") == std::string::npos) {
    return InvalidArgumentError("loader URL \"" + l.target + "\" has no {key} placeholder");
  }
  if (l.kind == LoaderConfig::Kind::kHttp) {
    if (StatusOr<HttpLoaderUrl> url = ParseHttpLoaderUrl(l.target); !url.ok()) return url.status();
  }
  if (l.kind == LoaderConfig::Kind::kGrpc && l.target.empty()) {
    return InvalidArgumentError("loader grpc target is empty");
  }
  return OkStatus();
}

Status ValidateDiscovery(const Config& c) {
  static const std::set<std::string> kModes = {"static", "dns", "kubernetes", "nats"};
  if (!kModes.count(c.discovery)) {
    return InvalidArgumentError("discovery \"" + c.discovery +
                                "\" is not static, dns, kubernetes or nats");
  }
  if (c.max_members < 1) return InvalidArgumentError("max_members must be >= 1");
  if (c.discovery == "kubernetes") {
    if (c.k8s_service.empty()) {
      return InvalidArgumentError(
          "k8s_service is required with discovery kubernetes: the headless Service whose "
          "EndpointSlices list the peers");
    }
    if (c.k8s_port_name.empty()) return InvalidArgumentError("k8s_port_name is empty");
    if (c.k8s_watch_timeout_ms < 1000) {
      return InvalidArgumentError("k8s_watch_timeout must be >= 1s");
    }
    if (c.k8s_token_reload_ms < 1000) return InvalidArgumentError("k8s_token_reload must be >= 1s");
  }
  if (c.discovery == "dns") {
    if (c.dns_name.empty()) return InvalidArgumentError("dns_name is required with discovery dns");
    if (c.dns_port < 0 || c.dns_port > 65535) {
      return InvalidArgumentError("dns_port must be 0 (SRV) or a port number");
    }
    if (c.dns_interval_ms < 100) return InvalidArgumentError("dns_interval must be >= 100ms");
    if (c.dns_timeout_ms < 10) return InvalidArgumentError("dns_timeout must be >= 10ms");
    if (c.dns_tries < 1) return InvalidArgumentError("dns_tries must be >= 1");
  }
  if (c.discovery == "nats") {
    if (c.nats_url.empty()) return InvalidArgumentError("nats_url is required with discovery nats");
    if (c.nats_heartbeat_ms < 50) return InvalidArgumentError("nats_heartbeat must be >= 50ms");
    if (c.nats_expiry_ms <= c.nats_heartbeat_ms) {
      return InvalidArgumentError("nats_expiry must be longer than nats_heartbeat");
    }
    if (c.nats_subject.empty() && c.cluster_name.empty()) {
      return InvalidArgumentError("cluster_name is empty and nats_subject is not set");
    }
    // One literal subject: wildcards would mix clusters, spaces break the protocol line.
    std::string subject = NatsSubject(c);
    if (subject.size() > 200 || subject.find_first_of(" \t\r\n*>") != std::string::npos ||
        subject.front() == '.' || subject.back() == '.' ||
        subject.find("..") != std::string::npos) {
      return InvalidArgumentError("nats subject \"" + subject +
                                  "\" is not a literal subject (no spaces, wildcards or empty "
                                  "tokens); check cluster_name / nats_subject");
    }
    if (c.nats_tls_cert.empty() != c.nats_tls_key.empty()) {
      return InvalidArgumentError("nats_tls_cert and nats_tls_key go together");
    }
    if (!c.nats_token.empty() && (!c.nats_user.empty() || !c.nats_creds.empty())) {
      return InvalidArgumentError("nats_token cannot be combined with nats_user or nats_creds");
    }
  }
  return OkStatus();
}

}  // namespace

Status SetKeyspaceField(KeyspaceConfig* ks, const std::string& field, const std::string& value) {
  KeyspaceOptions& o = ks->options;
  uint64_t bytes = 0;
  if (field == "max_bytes" || field == "max_key_bytes" || field == "max_value_bytes") {
    if (Status s = SetBytes(field, value, &bytes); !s.ok()) return s;
    if (field == "max_value_bytes") ks->max_value_bytes_set = true;
    (field == "max_bytes"       ? o.max_bytes
     : field == "max_key_bytes" ? o.max_key_bytes
                                : o.max_value_bytes) = bytes;
    return OkStatus();
  }
  if (field == "default_ttl" || field == "ttl") return SetDuration(field, value, &o.default_ttl_ms);
  if (field == "max_ttl") return SetDuration(field, value, &o.max_ttl_ms);
  if (field == "negative_ttl") return SetDuration(field, value, &o.negative_ttl_ms);
  if (field == "load_timeout") return SetDuration(field, value, &o.load_timeout_ms);
  if (field == "hot_ttl") return SetDuration(field, value, &o.hot_ttl_ms);
  if (field == "hot_window") return SetDuration(field, value, &o.hot_window_ms);
  if (field == "fallback_ttl") return SetDuration(field, value, &o.fallback_ttl_ms);
  if (field == "stale_while_revalidate") {
    return SetDuration(field, value, &o.stale_while_revalidate_ms);
  }
  if (field == "stale_if_error") return SetDuration(field, value, &o.stale_if_error_ms);
  if (field == "loader_breaker_time") return SetDuration(field, value, &o.loader_breaker_time_ms);
  if (field == "loader_breaker_max_time") {
    return SetDuration(field, value, &o.loader_breaker_max_time_ms);
  }
  if (field == "loader_breaker_failures") {
    return ParseInt(field, value, &o.loader_breaker_failures);
  }
  if (field == "loader_timeout") return SetDuration(field, value, &ks->loader.timeout_ms);
  if (field == "loader_max_value_bytes") {
    return SetBytes(field, value, &ks->loader.max_value_bytes);
  }
  if (field == "load_concurrency") return ParseInt(field, value, &o.load_concurrency);
  if (field == "load_queue") return ParseInt(field, value, &o.load_queue);
  if (field == "hot_promote_hits") return ParseInt(field, value, &o.hot_promote_hits);
  if (field == "hot_share") {
    double share = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), share);
    if (ec != std::errc() || ptr != value.data() + value.size()) {
      return InvalidArgumentError("hot_share: \"" + value + "\" is not a number");
    }
    o.hot_share = share;
    return OkStatus();
  }
  if (field == "eviction") {
    if (!ParseEvictionPolicy(value, &o.eviction)) {
      return InvalidArgumentError("eviction: \"" + value +
                                  "\" is not lru, slru, s3fifo or wtinylfu");
    }
    return OkStatus();
  }
  if (field == "loader") return SetLoader(&ks->loader, value);
  return InvalidArgumentError("unknown keyspace field \"" + field + "\"");
}

StatusOr<KeyspaceConfig> ParseKeyspaceSpec(const std::string& spec) {
  KeyspaceConfig ks;
  size_t colon = spec.find(':');
  ks.options.name = spec.substr(0, colon);
  std::string where = "--keyspace " + ks.options.name;
  if (colon == std::string::npos) return ks;
  std::string rest = spec.substr(colon + 1);
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t comma = rest.find(',', pos);
    std::string item = rest.substr(pos, comma == std::string::npos ? comma : comma - pos);
    pos = comma == std::string::npos ? rest.size() + 1 : comma + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      return InvalidArgumentError(where + ": \"" + item + "\" is not field=value");
    }
    if (Status s = SetKeyspaceField(&ks, item.substr(0, eq), item.substr(eq + 1)); !s.ok()) {
      return InvalidArgumentError(where + ": " + s.message());
    }
  }
  return ks;
}

std::string NatsSubject(const Config& config) {
  return config.nats_subject.empty() ? "podcache.discovery." + config.cluster_name
                                     : config.nats_subject;
}

bool IsLoopbackListen(const std::string& listen) {
  if (listen.rfind("unix:", 0) == 0) return true;
  std::string host = listen.substr(0, listen.rfind(':'));
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

Status Config::Validate() const {
  if (api_listen.empty()) return InvalidArgumentError("api_listen is empty");
  if (!IsLoopbackListen(api_listen) && !api_allow_remote) {
    return InvalidArgumentError("api_listen " + api_listen +
                                " is not a loopback address or unix socket; the app API has no "
                                "TLS, so set api_allow_remote to listen on it anyway");
  }
  if (api_listen.rfind("unix:", 0) != 0 && api_listen.find(':') == std::string::npos) {
    return InvalidArgumentError("api_listen " + api_listen + " is not host:port or unix:/path");
  }
  if (http_listen.find(':') == std::string::npos) {
    return InvalidArgumentError("http_listen " + http_listen + " is not host:port");
  }
  if (api_socket_mode > 0777) return InvalidArgumentError("api_socket_mode must be <= 0777");
  if (max_message_bytes < 1024 || max_message_bytes > kMaxMessageBytesLimit) {
    return InvalidArgumentError("max_message_bytes " + FormatBytes(max_message_bytes) +
                                " must be between 1KiB and " + FormatBytes(kMaxMessageBytesLimit));
  }
  if (max_keys_per_call < 1 || max_keys_per_call > kMaxKeysPerCallLimit) {
    return InvalidArgumentError("max_keys_per_call must be between 1 and " +
                                std::to_string(kMaxKeysPerCallLimit));
  }
  if (shutdown_grace_ms < 0) return InvalidArgumentError("shutdown_grace must be >= 0");
  if (reap_interval_ms <= 0) return InvalidArgumentError("reap_interval must be > 0");
  static const std::set<std::string> kLevels = {"debug", "info", "warn", "error"};
  if (!kLevels.count(log_level)) {
    return InvalidArgumentError("log_level \"" + log_level +
                                "\" is not debug, info, warn or error");
  }
  if (Status s = ValidateDiscovery(*this); !s.ok()) return s;
  if (clustered()) {
    if (advertise.empty() || advertise.find(':') == std::string::npos) {
      return InvalidArgumentError(
          "advertise is required with peers: this node's peer address as the others dial it "
          "(host:port, e.g. ${POD_IP}:7071)");
    }
    if (!insecure_peers && (tls_cert.empty() || tls_key.empty() || tls_ca.empty())) {
      return InvalidArgumentError(
          "the peer port needs tls_cert, tls_key and tls_ca (mTLS); insecure_peers turns TLS "
          "off for local experiments only");
    }
    if (tls_peer_name.empty()) return InvalidArgumentError("tls_peer_name is empty");
    if (peer_timeout_ms <= 0) return InvalidArgumentError("peer_timeout must be > 0");
    if (peer_hedge_delay_ms < 0 && peer_hedge_delay_ms != Config::kAutoHedgeDelay) {
      return InvalidArgumentError("peer_hedge_delay must be auto, 0 (off) or a duration");
    }
    if (peer_max_inflight < 1) return InvalidArgumentError("peer_max_inflight must be >= 1");
    if (peer_max_batch < 1) return InvalidArgumentError("peer_max_batch must be >= 1");
    if (write_ack_wait_ms < 0 || write_ack_wait_ms >= peer_timeout_ms) {
      return InvalidArgumentError(
          "write_ack_wait must be >= 0 and below peer_timeout (a forwarded write waits for it)");
    }
    if (repair_interval_ms < 10 || repair_interval_ms > 60000) {
      return InvalidArgumentError("repair_interval must be between 10ms and 60s");
    }
    if (repair_max_keys < 1 || repair_max_keys > 1000000) {
      return InvalidArgumentError("repair_max_keys must be between 1 and 1000000");
    }
    if (peer_eject_failures < 1) {
      return InvalidArgumentError("peer_eject_failures must be >= 1");
    }
    if (peer_eject_time_ms <= 0) return InvalidArgumentError("peer_eject_time must be > 0");
    if (peer_eject_max_time_ms < peer_eject_time_ms) {
      return InvalidArgumentError("peer_eject_max_time must be >= peer_eject_time");
    }
    if (tls_reload_interval_ms < 1000) {
      return InvalidArgumentError("tls_reload_interval must be >= 1s");
    }
  }
  if (keyspaces.empty()) {
    return InvalidArgumentError(
        "no keyspaces: declare them under keyspaces: in the --config file or with --keyspace");
  }
  if (keyspaces.size() > kMaxKeyspaces) {
    return InvalidArgumentError(std::to_string(keyspaces.size()) + " keyspaces: at most " +
                                std::to_string(kMaxKeyspaces) + " per node");
  }
  std::set<std::string> names;
  for (const KeyspaceConfig& ks : keyspaces) {
    std::string where = "keyspaces[" + ks.options.name + "]: ";
    if (!names.insert(ks.options.name).second) {
      return InvalidArgumentError(where + "declared twice");
    }
    const KeyspaceOptions& o = ks.options;
    if (!ks.max_value_bytes_set && o.max_bytes >= (64 << 10) &&
        o.max_value_bytes > o.max_bytes / 4) {
      return InvalidArgumentError(where + "max_bytes " + FormatBytes(o.max_bytes) +
                                  " is too small for the default "
                                  "max_value_bytes of " +
                                  FormatBytes(o.max_value_bytes) +
                                  " (a value may use at most a "
                                  "quarter of max_bytes): set max_value_bytes to " +
                                  FormatBytes(o.max_bytes / 4) + " or less, or max_bytes to " +
                                  FormatBytes(o.max_value_bytes * 4) + " or more");
    }
    if (Status s = ks.options.Validate(); !s.ok()) return s;  // names the keyspace itself
    if (Status s = ValidateLoader(ks.loader); !s.ok()) {
      return InvalidArgumentError(where + s.message());
    }
    if (ks.options.max_value_bytes + ks.options.max_key_bytes + 1024 > max_message_bytes) {
      return InvalidArgumentError(
          where + "max_value_bytes " + FormatBytes(ks.options.max_value_bytes) +
          " does not fit in max_message_bytes " + FormatBytes(max_message_bytes));
    }
  }
  return OkStatus();
}

}  // namespace podcache
