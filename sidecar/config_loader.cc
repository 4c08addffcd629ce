#include "sidecar/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>

#include "core/small_file.h"
#include "core/strings.h"
#include "discovery/host_port.h"
#include "sidecar/config_options.h"
#include "sidecar/version.h"

namespace podcache {
namespace {

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
    const ConfigOption* option = nullptr;
    for (const ConfigOption& o : ConfigOptions()) {
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

namespace {

// What the command line and the environment say, before it is applied on top of the file.
struct Flags {
  std::string config_path;
  bool validate_only = false;
  std::vector<std::string> keyspace_specs;
  CLI::Option* keyspace_flag = nullptr;
  // Per option of ConfigOptions(): its text (or, for a bool, its value) and whether it was given.
  std::vector<std::string> values;
  std::unique_ptr<bool[]> bools;
  std::vector<CLI::Option*> given;
};

// Declares every flag of `podcache` on `app`, bound to `flags`.
void AddFlags(CLI::App* app, Flags* flags) {
  app->set_version_flag("--version", std::string("podcache ") + kPodcacheVersion);
  app->add_option("--config", flags->config_path, "YAML configuration file")
      ->envname("PODCACHE_CONFIG");
  app->add_flag("--validate-config", flags->validate_only,
                "Check the configuration (file, environment, flags), print it, and exit: 0 when "
                "valid, 2 with the error otherwise");
  // PODCACHE_KEYSPACE is read by ApplyKeyspaceSpecs: it may hold several specs.
  flags->keyspace_flag = app->add_option(
      "--keyspace", flags->keyspace_specs,
      "Declare a keyspace, repeatable: 'NAME:max_bytes=64MiB,ttl=5m,"
      "loader=http://127.0.0.1:8080/cache/{keyspace}/{key}'. In PODCACHE_KEYSPACE, several "
      "specs are separated by newlines or ';'");
  const Config defaults;
  const auto& options = ConfigOptions();
  flags->values.resize(options.size());
  flags->bools.reset(new bool[options.size()]());
  flags->given.resize(options.size());
  for (size_t i = 0; i < options.size(); ++i) {
    const ConfigOption& o = options[i];
    std::string name = std::string("--") + o.flag;
    if (o.is_bool) {
      // --api-allow-remote, --api-allow-remote=false, PODCACHE_API_ALLOW_REMOTE=true
      flags->given[i] = app->add_flag(name, flags->bools[i], o.help);
    } else {
      flags->given[i] =
          app->add_option(name, flags->values[i], o.help)->default_str(o.show(defaults));
    }
    flags->given[i]->envname(EnvName(o.flag));
  }
}

// The options given as flags or in the environment, on top of the file's.
Status ApplyOptions(const Flags& flags, Config* config) {
  const auto& options = ConfigOptions();
  for (size_t i = 0; i < options.size(); ++i) {
    if (flags.given[i]->count() == 0) continue;
    std::string v = options[i].is_bool ? (flags.bools[i] ? "true" : "false") : flags.values[i];
    if (Status s = options[i].set(*config, v); !s.ok()) return s;
  }
  return OkStatus();
}

// The keyspaces of --keyspace (or else PODCACHE_KEYSPACE). A --keyspace replaces the file's
// keyspace of the same name; two of them with one name are an error, as two in the file are
// (Config::Validate).
Status ApplyKeyspaceSpecs(const Flags& flags, Config* config) {
  std::vector<std::string> specs = flags.keyspace_specs;
  if (flags.keyspace_flag->count() == 0) {
    if (const char* env = std::getenv("PODCACHE_KEYSPACE")) specs = SplitKeyspaceSpecs(env);
  }
  std::set<std::string> from_flags;
  for (const std::string& spec : specs) {
    auto ks = ParseKeyspaceSpec(spec);
    if (!ks.ok()) return ks.status();
    const std::string& name = ks.value().options.name;
    if (!from_flags.insert(name).second) {
      return InvalidArgumentError("--keyspace " + name + " is declared twice");
    }
    std::erase_if(config->keyspaces,
                  [&](const KeyspaceConfig& k) { return k.options.name == name; });
    config->keyspaces.push_back(std::move(ks).value());
  }
  return OkStatus();
}

// api_token from api_token_file, or the api_token given checked.
Status ResolveApiToken(Config* config) {
  if (config->api_token_file.empty()) {
    if (Status s = CheckToken(config->api_token); !s.ok()) {
      return InvalidArgumentError("api_token: " + s.message());
    }
    return OkStatus();
  }
  if (!config->api_token.empty()) {
    return InvalidArgumentError(
        "api_token and api_token_file are both set: set one (the file is better: it stays out "
        "of the process list and the environment)");
  }
  auto token = ReadTokenFile(config->api_token_file);
  if (!token.ok()) return token.status();
  config->api_token = std::move(token).value();
  return OkStatus();
}

// --validate-config's report: every option (secrets as "(set)") and the keyspaces' names.
void PrintValidatedConfig(const Config& config) {
  static const std::set<std::string> kSecrets = {"api-token", "nats-password", "nats-token"};
  std::cout << "podcache: configuration ok\n";
  for (const ConfigOption& o : ConfigOptions()) {
    std::string value = o.show(config);
    if (kSecrets.count(o.flag) && !value.empty()) value = "(set)";
    std::cout << "  " << o.yaml << ": " << value << "\n";
  }
  for (const KeyspaceConfig& ks : config.keyspaces) {
    std::cout << "  keyspace " << ks.options.name << "\n";
  }
}

// The configuration the flags describe: the file, then the environment and flags, then the
// keyspaces, the token, and the checks of the whole.
StatusOr<Config> BuildConfig(const Flags& flags) {
  Config config;
  if (!flags.config_path.empty()) {
    if (Status s = LoadConfigFile(flags.config_path, &config); !s.ok()) return s;
  }
  if (Status s = ApplyOptions(flags, &config); !s.ok()) return s;
  if (Status s = ApplyKeyspaceSpecs(flags, &config); !s.ok()) return s;
  if (Status s = ResolveApiToken(&config); !s.ok()) return s;
  config.advertise = BracketIpv6HostPort(config.advertise);
  if (Status s = config.Validate(); !s.ok()) return s;
  return config;
}

}  // namespace

CommandLine ParseCommandLine(int argc, const char* const* argv) {
  CommandLine out;
  CLI::App app{
      "podcache: the Kubernetes sidecar cache. Every option is also PODCACHE_<OPTION> in "
      "the environment and a key of the --config YAML file; flags override the "
      "environment, which overrides the file.",
      "podcache"};
  Flags flags;
  AddFlags(&app, &flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    out.exit = true;
    out.exit_code = app.exit(e);
    return out;
  }
  StatusOr<Config> config = BuildConfig(flags);
  if (!config.ok()) {
    std::cerr << "podcache: configuration error: " << config.status().message() << "\n";
    out.exit = true;
    out.exit_code = 2;
    return out;
  }
  if (flags.validate_only) {
    PrintValidatedConfig(config.value());
    out.exit = true;
    out.exit_code = 0;
    return out;
  }
  out.config = std::move(config).value();
  return out;
}

}  // namespace podcache
