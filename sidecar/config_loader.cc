#include "sidecar/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <set>

#include "core/small_file.h"
#include "core/strings.h"
#include "discovery/host_port.h"
#include "sidecar/units.h"
#include "sidecar/version.h"

namespace podcache {
namespace {

// One top-level option: --flag, PODCACHE_FLAG and the YAML key.
struct Option {
  const char* flag;
  const char* yaml;
  const char* help;
  bool is_bool;
  std::function<Status(Config&, const std::string&)> set;
  std::function<std::string(const Config&)> show;
};

template <typename T>
Option Text(const char* flag, const char* yaml, const char* help, T Config::*field) {
  return {flag,
          yaml,
          help,
          false,
          [field](Config& c, const std::string& v) {
            c.*field = v;
            return OkStatus();
          },
          [field](const Config& c) { return c.*field; }};
}

Option Bytes(const char* flag, const char* yaml, const char* help, uint64_t Config::*field) {
  return {flag,
          yaml,
          help,
          false,
          [field, yaml](Config& c, const std::string& v) -> Status {
            auto b = ParseBytes(v);
            if (!b.ok())
              return InvalidArgumentError(std::string(yaml) + ": " + b.status().message());
            c.*field = b.value();
            return OkStatus();
          },
          [field](const Config& c) { return FormatBytes(c.*field); }};
}

Option Duration(const char* flag, const char* yaml, const char* help, Millis Config::*field) {
  return {flag,
          yaml,
          help,
          false,
          [field, yaml](Config& c, const std::string& v) -> Status {
            auto d = ParseDuration(v);
            if (!d.ok())
              return InvalidArgumentError(std::string(yaml) + ": " + d.status().message());
            c.*field = d.value();
            return OkStatus();
          },
          [field](const Config& c) { return FormatDuration(c.*field); }};
}

Option Int(const char* flag, const char* yaml, const char* help, int Config::*field) {
  return {flag,
          yaml,
          help,
          false,
          [field, yaml](Config& c, const std::string& v) -> Status {
            char* end = nullptr;
            long n = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || n < INT32_MIN || n > INT32_MAX) {
              return InvalidArgumentError(std::string(yaml) + ": \"" + v + "\" is not an integer");
            }
            c.*field = static_cast<int>(n);
            return OkStatus();
          },
          [field](const Config& c) { return std::to_string(c.*field); }};
}

Option Bool(const char* flag, const char* yaml, const char* help, bool Config::*field) {
  return {
      flag,
      yaml,
      help,
      true,
      [field, yaml](Config& c, const std::string& v) -> Status {
        if (v == "true" || v == "1" || v == "yes") {
          c.*field = true;
        } else if (v == "false" || v == "0" || v == "no") {
          c.*field = false;
        } else {
          return InvalidArgumentError(std::string(yaml) + ": \"" + v + "\" is not true or false");
        }
        return OkStatus();
      },
      [field](const Config& c) { return std::string(c.*field ? "true" : "false"); }};
}

const std::vector<Option>& Options() {
  static const std::vector<Option> kOptions = {
      Text("api-listen", "api_listen", "App API address: host:port or unix:/path",
           &Config::api_listen),
      Bool("api-allow-remote", "api_allow_remote",
           "Allow a non-loopback --api-listen (the app API has no TLS)", &Config::api_allow_remote),
      {"api-socket-mode", "api_socket_mode", "File mode of the unix socket (octal)", false,
       [](Config& c, const std::string& v) -> Status {
         char* end = nullptr;
         unsigned long mode = std::strtoul(v.c_str(), &end, 8);
         if (v.empty() || *end != '\0' || mode > 0777) {
           return InvalidArgumentError("api_socket_mode: \"" + v + "\" is not an octal mode");
         }
         c.api_socket_mode = static_cast<uint32_t>(mode);
         return OkStatus();
       },
       [](const Config& c) {
         char buf[8];
         std::snprintf(buf, sizeof buf, "0%o", c.api_socket_mode);
         return std::string(buf);
       }},
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
      Int("peer-max-inflight", "peer_max_inflight",
          "Calls in flight to one peer; more Gets are batched", &Config::peer_max_inflight),
      Int("peer-max-batch", "peer_max_batch", "Keys per batched peer Get", &Config::peer_max_batch),
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

// A configuration error found deep inside the YAML walk (an undefined variable); caught by
// LoadConfigText and turned into its Status.
struct ConfigTextError {
  std::string message;
};

// Replaces ${VAR} with the variable's value and ${VAR:-default} with the value, or `default`
// when VAR is unset or empty. An unset ${VAR} without a default is an error naming it: a typo
// must not silently become an empty setting.
std::string ExpandEnv(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '$' && i + 1 < in.size() && in[i + 1] == '{') {
      size_t end = in.find('}', i + 2);
      if (end == std::string::npos) throw ConfigTextError{"\"" + in + "\": ${ without }"};
      std::string ref = in.substr(i + 2, end - i - 2);
      size_t dash = ref.find(":-");
      std::string name = ref.substr(0, dash);
      bool valid = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
      for (char c : name)
        valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
      if (!valid) throw ConfigTextError{"${" + ref + "}: \"" + name + "\" is not a variable name"};
      const char* v = std::getenv(name.c_str());
      if (dash != std::string::npos && (v == nullptr || *v == '\0')) {
        out += ref.substr(dash + 2);
      } else if (v == nullptr) {
        throw ConfigTextError{"${" + name + "} is not set (write ${" + name +
                              ":-default} for a default)"};
      } else {
        out += v;
      }
      i = end;
      continue;
    }
    out += in[i];
  }
  return out;
}

std::string Scalar(const YAML::Node& node) { return ExpandEnv(node.as<std::string>()); }

Status KeyspaceFromYaml(const YAML::Node& node, size_t index, KeyspaceConfig* ks) {
  std::string where = "keyspaces[" + std::to_string(index) + "]";
  if (!node.IsMap()) return InvalidArgumentError(where + ": must be a map");
  if (!node["name"]) return InvalidArgumentError(where + ": name is missing");
  ks->options.name = Scalar(node["name"]);
  where = "keyspaces[" + ks->options.name + "]";
  for (const auto& kv : node) {
    std::string field = kv.first.as<std::string>();
    if (field == "name") continue;
    Status s;
    if (field == "loader" && kv.second.IsMap()) {
      for (const auto& l : kv.second) {
        std::string key = l.first.as<std::string>();
        if (!l.second.IsScalar())
          return InvalidArgumentError(where + ": loader." + key + " must be a scalar");
        if (key == "http") {
          s = SetKeyspaceField(ks, "loader", Scalar(l.second));
        } else if (key == "grpc") {
          s = SetKeyspaceField(ks, "loader", "grpc://" + Scalar(l.second));
        } else if (key == "timeout" || key == "max_value_bytes") {
          s = SetKeyspaceField(ks, "loader_" + key, Scalar(l.second));
        } else {
          s = InvalidArgumentError("unknown loader field \"" + key +
                                   "\" (http, grpc, timeout, max_value_bytes)");
        }
        if (!s.ok()) break;
      }
    } else if (!kv.second.IsScalar()) {
      s = InvalidArgumentError(field + " must be a scalar");
    } else {
      s = SetKeyspaceField(ks, field, Scalar(kv.second));
    }
    if (!s.ok()) return InvalidArgumentError(where + ": " + s.message());
  }
  return OkStatus();
}

// Applies the YAML map `node` whose keys are below `prefix` (e.g. "tls.").
Status ApplyYamlMap(const YAML::Node& node, const std::string& prefix, Config* config) {
  for (const auto& kv : node) {
    std::string key = prefix + kv.first.as<std::string>();
    if (key == "keyspaces") {
      if (!kv.second.IsSequence()) return InvalidArgumentError("keyspaces: must be a list");
      for (size_t i = 0; i < kv.second.size(); ++i) {
        KeyspaceConfig ks;
        if (Status s = KeyspaceFromYaml(kv.second[i], i, &ks); !s.ok()) return s;
        config->keyspaces.push_back(std::move(ks));
      }
      continue;
    }
    if (kv.second.IsMap()) {
      if (Status s = ApplyYamlMap(kv.second, key + ".", config); !s.ok()) return s;
      continue;
    }
    const Option* option = nullptr;
    for (const Option& o : Options()) {
      if (key == o.yaml) option = &o;
    }
    if (option == nullptr) return InvalidArgumentError("unknown key \"" + key + "\"");
    std::string value;
    if (kv.second.IsSequence()) {
      // A list (peers: [a:7071, b:7071]) is the same as the comma-separated form.
      for (const auto& item : kv.second) {
        if (!item.IsScalar()) return InvalidArgumentError(key + ": must be a list of scalars");
        value += (value.empty() ? "" : ",") + Scalar(item);
      }
    } else if (kv.second.IsScalar()) {
      value = Scalar(kv.second);
    } else {
      return InvalidArgumentError(key + ": must be a scalar");
    }
    if (Status s = option->set(*config, value); !s.ok()) return s;
  }
  return OkStatus();
}

}  // namespace

std::vector<std::string> SplitKeyspaceSpecs(std::string_view text) {
  std::vector<std::string> specs;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find_first_of(";\n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view spec = TrimSpace(text.substr(pos, end - pos));
    if (!spec.empty()) specs.emplace_back(spec);
    pos = end + 1;
  }
  return specs;
}

Status LoadConfigText(const std::string& text, Config* config) {
  try {
    YAML::Node root = YAML::Load(text);
    if (root.IsNull()) return OkStatus();
    if (!root.IsMap()) return InvalidArgumentError("the top level must be a map");
    return ApplyYamlMap(root, "", config);
  } catch (const ConfigTextError& e) {
    return InvalidArgumentError(e.message);
  } catch (const std::exception& e) {  // YAML::Exception, and whatever else a parser may throw
    return InvalidArgumentError(e.what());
  }
}

Status LoadConfigFile(const std::string& path, Config* config) {
  auto text = ReadSmallFile("config file", path, kMaxConfigFileBytes);
  if (!text.ok()) return text.status();
  Status s = LoadConfigText(text.value(), config);
  return s.ok() ? s : InvalidArgumentError(path + ": " + s.message());
}

Status CheckToken(const std::string& token) {
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidArgumentError(
          "the token must be printable ASCII without spaces (it travels in "
          "an HTTP header)");
    }
  }
  return OkStatus();
}

StatusOr<std::string> ReadTokenFile(const std::string& path) {
  auto text = ReadSmallFile("api_token_file", path, kMaxTokenBytes);
  if (!text.ok()) return text.status();
  std::string token(TrimTrailingSpace(text.value()));
  if (token.empty()) {
    return InvalidArgumentError("api_token_file " + path +
                                " is empty: refusing to run the app API without its token");
  }
  if (Status s = CheckToken(token); !s.ok()) {
    return InvalidArgumentError("api_token_file " + path + ": " + s.message());
  }
  return token;
}

CommandLine ParseCommandLine(int argc, const char* const* argv) {
  CommandLine out;
  const Config defaults;
  CLI::App app{
      "podcache: the Kubernetes sidecar cache. Every option is also PODCACHE_<OPTION> in "
      "the environment and a key of the --config YAML file; flags override the "
      "environment, which overrides the file.",
      "podcache"};
  app.set_version_flag("--version", std::string("podcache ") + kPodcacheVersion);
  std::string config_path;
  app.add_option("--config", config_path, "YAML configuration file")->envname("PODCACHE_CONFIG");
  bool validate_only = false;
  app.add_flag("--validate-config", validate_only,
               "Check the configuration (file, environment, flags), print it, and exit: 0 when "
               "valid, 2 with the error otherwise");
  std::vector<std::string> keyspace_specs;
  // PODCACHE_KEYSPACE is read below: it may hold several specs.
  auto* keyspace_flag = app.add_option(
      "--keyspace", keyspace_specs,
      "Declare a keyspace, repeatable: 'NAME:max_bytes=64MiB,ttl=5m,"
      "loader=http://127.0.0.1:8080/cache/{keyspace}/{key}'. In PODCACHE_KEYSPACE, several "
      "specs are separated by newlines or ';'");
  const auto& options = Options();
  std::vector<std::string> values(options.size());
  std::unique_ptr<bool[]> bools(new bool[options.size()]());
  std::vector<CLI::Option*> cli(options.size());
  for (size_t i = 0; i < options.size(); ++i) {
    const Option& o = options[i];
    std::string name = std::string("--") + o.flag;
    if (o.is_bool) {
      // --api-allow-remote, --api-allow-remote=false, PODCACHE_API_ALLOW_REMOTE=true
      cli[i] = app.add_flag(name, bools[i], o.help);
    } else {
      cli[i] = app.add_option(name, values[i], o.help)->default_str(o.show(defaults));
    }
    cli[i]->envname(EnvName(o.flag));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    out.exit = true;
    out.exit_code = app.exit(e);
    return out;
  }
  auto fail = [&out](const Status& s) {
    std::cerr << "podcache: configuration error: " << s.message() << "\n";
    out.exit = true;
    out.exit_code = 2;
    return out;
  };
  Config config;
  if (!config_path.empty()) {
    if (Status s = LoadConfigFile(config_path, &config); !s.ok()) return fail(s);
  }
  for (size_t i = 0; i < options.size(); ++i) {
    if (cli[i]->count() == 0) continue;
    std::string v = options[i].is_bool ? (bools[i] ? "true" : "false") : values[i];
    if (Status s = options[i].set(config, v); !s.ok()) return fail(s);
  }
  if (keyspace_flag->count() == 0) {
    if (const char* env = std::getenv("PODCACHE_KEYSPACE"))
      keyspace_specs = SplitKeyspaceSpecs(env);
  }
  // A --keyspace replaces the file's keyspace of the same name; two of them with one name are an
  // error, as two in the file are (Config::Validate).
  std::set<std::string> from_flags;
  for (const std::string& spec : keyspace_specs) {
    auto ks = ParseKeyspaceSpec(spec);
    if (!ks.ok()) return fail(ks.status());
    const std::string& name = ks.value().options.name;
    if (!from_flags.insert(name).second) {
      return fail(InvalidArgumentError("--keyspace " + name + " is declared twice"));
    }
    std::erase_if(config.keyspaces,
                  [&](const KeyspaceConfig& k) { return k.options.name == name; });
    config.keyspaces.push_back(std::move(ks).value());
  }
  if (!config.api_token_file.empty()) {
    if (!config.api_token.empty()) {
      return fail(InvalidArgumentError(
          "api_token and api_token_file are both set: set one (the file is better: it stays out "
          "of the process list and the environment)"));
    }
    auto token = ReadTokenFile(config.api_token_file);
    if (!token.ok()) return fail(token.status());
    config.api_token = std::move(token).value();
  } else if (!config.api_token.empty()) {
    if (Status s = CheckToken(config.api_token); !s.ok()) {
      return fail(InvalidArgumentError("api_token: " + s.message()));
    }
  }
  config.advertise = BracketIpv6HostPort(config.advertise);
  if (Status s = config.Validate(); !s.ok()) return fail(s);
  if (validate_only) {
    std::cout << "podcache: configuration ok\n";
    for (const Option& o : options) {
      std::string value = o.show(config);
      static const std::set<std::string> kSecrets = {"api-token", "nats-password", "nats-token"};
      if (kSecrets.count(o.flag) && !value.empty()) value = "(set)";
      std::cout << "  " << o.yaml << ": " << value << "\n";
    }
    for (const KeyspaceConfig& ks : config.keyspaces) {
      std::cout << "  keyspace " << ks.options.name << "\n";
    }
    out.exit = true;
    out.exit_code = 0;
    return out;
  }
  out.config = std::move(config);
  return out;
}

}  // namespace podcache
